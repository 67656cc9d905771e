"""Run one live file as a fresh module, inside a patch transaction, and say what happened.

Nothing a live file does escapes this module: every exception, SystemExit and KeyboardInterrupt
included, becomes an error result, and the transaction puts the file's last good replacements back.

Live code that runs too long can be stopped from another thread (`LiveCalls.interrupt`): a
`RunInterrupted` is raised inside it, only while the live file's own frames run, never inside the
engine, so the transaction unwinds as for any other error.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import linecache
import os
import re
import stat
import sys
import threading
import time
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from tokenize import detect_encoding

from ..events import ErrorInfo
from ..patch.inplace import dispatcher_of
from ..patch.registry import PatchRegistry, ReplacementInfo

LIVE_PACKAGE = "hotreload_live"
TEARDOWN = "teardown"
# Compiling Python source takes about 250 times its size in memory (1 MB of dense code: ~250 MB),
# so a file far larger than any hand-written tweak is refused instead of compiled.
MAX_SOURCE_BYTES = 1024 * 1024
# Errors of reading a live file that mean it is gone (deleted or renamed after its event).
GONE_ERRORS = (FileNotFoundError, NotADirectoryError)
# After compile()'s own words for a file with NUL bytes.
NOT_SOURCE = ": this is not Python source (a binary file?)"


class RunInterrupted(BaseException):
    """Raised inside live code that was stopped from outside. A BaseException, so the file's own
    `except Exception:` does not swallow it."""


class SourceTooLarge(ValueError):
    pass


@dataclass
class RunResult:
    ok: bool
    duration_ms: float
    replaced: list[ReplacementInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: ErrorInfo | None = None
    module: types.ModuleType | None = None
    restored: list[str] = field(default_factory=list)  # what the last good run replaced and this one does not
    undone: list[tuple[str, str]] = field(default_factory=list)  # (target, owner) the file's restore() calls undid


Stamp = tuple[int, int]  # (mtime in ns, size) of a file


@dataclass(frozen=True)
class Source:
    data: bytes
    stamp: Stamp  # (mtime in ns, size) of what was read: tells a changed file from an unchanged one

    @property
    def digest(self) -> bytes:
        return hashlib.blake2b(self.data, digest_size=16).digest()


def module_name_for(folder: Path, path: Path) -> str:
    """A readable `__name__` for a live file, unique per path: hotreload_live.sub.file_name. A part
    that is not an identifier (`a-b.py`, `my dir/`) is made one and gets a short hash of its real
    name after a "-", which no identifier holds: `a-b.py` and `a_b.py` never share a module."""
    relative = path.relative_to(folder).with_suffix("")
    return ".".join([LIVE_PACKAGE, *map(_module_part, relative.parts)])


def _module_part(name: str) -> str:
    if name.isidentifier():
        return name
    readable = re.sub(r"\W", "_", name) or "_"
    tag = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=4).hexdigest()
    return f"{readable}-{tag}"


def file_stamp(path: Path) -> Stamp | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def read_source(path: Path) -> Source:
    """The bytes of a live file. Raises OSError (GONE_ERRORS when it no longer exists) or
    SourceTooLarge; never blocks on a named pipe and never reads more than the limit."""
    # O_NONBLOCK: opening a FIFO that happens to end in .py would otherwise wait for a writer forever.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(descriptor, "rb") as file:
        info = os.fstat(descriptor)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "a folder, not a file", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file (a pipe or a device?)")
        data = file.read(MAX_SOURCE_BYTES + 1)
    if info.st_size > MAX_SOURCE_BYTES or len(data) > MAX_SOURCE_BYTES:
        raise SourceTooLarge(
            f"the file is {max(info.st_size, len(data)) / 1e6:.1f} MB; live files over "
            f"{MAX_SOURCE_BYTES / 1e6:.0f} MB are not run (compiling that much Python would take "
            "hundreds of MB of memory: is it really a source file?)"
        )
    return Source(data, (info.st_mtime_ns, info.st_size))


def error_info(error: BaseException, path: str, *, interrupted: str = "") -> ErrorInfo:
    """Type, message, the line in the live file (the deepest frame there), and the traceback."""
    line: int | None = None
    if isinstance(error, SyntaxError) and error.filename == path:
        line = error.lineno
    else:
        for frame, lineno in traceback.walk_tb(error.__traceback__):
            if frame.f_code.co_filename == path:
                line = lineno
    text = "".join(traceback.format_exception(type(error), error, _from_the_live_code(error)))
    return ErrorInfo(type=type(error).__name__, message=_message(error, interrupted), file=path, line=line,
                     traceback=text)


def _from_the_live_code(error: BaseException) -> types.TracebackType | None:
    """The traceback without the reloader's own frames in front (where it called compile, exec or
    teardown): the user reads their file's lines first, as in a traceback of their own program.
    All of it when every frame is ours (a fault of the reloader itself), but for a SyntaxError,
    whose own lines show the place."""
    tb = error.__traceback__
    # Also the forwarding frame of a function patched in place: a call's error starts in the replacement.
    while tb is not None and (tb.tb_frame.f_code.co_filename == __file__ or dispatcher_of(tb.tb_frame.f_code)):
        tb = tb.tb_next
    return tb if tb is not None or isinstance(error, SyntaxError) else error.__traceback__


def _message(error: BaseException, interrupted: str) -> str:
    if isinstance(error, RunInterrupted):
        return f"interrupted: {interrupted or 'stopped from outside'}"
    if isinstance(error, SystemExit):
        return f"the file called sys.exit({error.code!r}); ignored"
    if isinstance(error, SyntaxError):
        message = error.msg or str(error)
        if message.startswith("(unicode error)"):
            message += (": the file is not valid UTF-8; save it as UTF-8, or declare its encoding on "
                        "line 1 or 2 (# -*- coding: latin-1 -*-)")
        elif "null bytes" in message:  # a SyntaxError from Python 3.12 on, a ValueError before
            message += NOT_SOURCE
        return message
    if isinstance(error, ValueError) and "null bytes" in str(error):
        return f"{error}{NOT_SOURCE}"
    return str(error)


def _remember_source(path: str, source: bytes) -> None:
    """Put the source that runs into linecache, so tracebacks and inspect show these very lines
    even after the file changes again on disk."""
    try:
        info = os.stat(path)
        text = source.decode(_source_encoding(source), errors="replace")
    except (OSError, LookupError):
        return
    linecache.cache[path] = (info.st_size, info.st_mtime, text.splitlines(keepends=True), path)


def _source_encoding(source: bytes) -> str:
    readline = iter(source.splitlines(keepends=True)).__next__
    try:
        return detect_encoding(readline)[0]
    except SyntaxError:
        return "utf-8"


@dataclass
class LiveCall:
    """Live code running now: a file's body, or its teardown()."""

    path: str
    what: str  # "the file" or "teardown()"
    started: float  # time.monotonic()
    thread_id: int
    caller: types.FrameType | None  # the frame in this module that called into the live code, while it runs
    stamp: Stamp | None  # of the file's version this call belongs to: another one on disk supersedes it
    interrupt_reason: str = ""


class LiveCalls:
    """The live code running right now (at most one call: the worker runs one file at a time), so
    another thread can report on it and interrupt it. `changed` is notified when a call starts or ends."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.current: LiveCall | None = None

    @contextlib.contextmanager
    def entered(self, path: str, what: str, caller: types.FrameType, stamp: Stamp | None) -> Iterator[LiveCall]:
        call = LiveCall(path, what, time.monotonic(), threading.get_ident(), caller, stamp)
        with self.changed:
            self.current = call
            self.changed.notify_all()
        try:
            yield call
        finally:
            with self.changed:
                if self.current is call:
                    self.current = None
                self.changed.notify_all()
            # That frame holds this call: kept, the pair would keep every frame below it alive until
            # a garbage collection, with their locals (a failed run's 20 MB error message and all).
            call.caller = None

    def interrupt(self, call: LiveCall, reason: str) -> bool:
        """Raise RunInterrupted inside `call` if the live file's own code runs now; False when it
        cannot be done at this moment (the call is inside the engine, e.g. in replace()): try again.
        Code blocked in a C call (sleep, a lock, I/O) sees it when that call returns."""
        thread_id = ctypes.c_ulong(call.thread_id)
        exception = ctypes.py_object(RunInterrupted)
        with self.changed:
            if self.current is not call:
                return False
            call.interrupt_reason = reason
            # Checked and raised without running Python code of another thread in between: the
            # worker waits for the GIL right where the check saw it, and raises there when it resumes.
            if not _runs_live_code(sys._current_frames().get(call.thread_id), call):
                return False
            return ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id, exception) == 1


def _runs_live_code(frame: types.FrameType | None, call: LiveCall) -> bool:
    """True when the thread's stack, from the top down to the runner's calling frame, holds no
    engine frame and the frame right above the caller is the live file's own code."""
    engine = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # hotreload_lib/, every stage
    above: types.FrameType | None = None
    while frame is not None and frame is not call.caller:
        filename = frame.f_code.co_filename
        if filename.startswith(engine) and filename != call.path:
            return False
        above, frame = frame, frame.f_back
    return frame is not None and above is not None and above.f_code.co_filename == call.path


def call_teardown(module: types.ModuleType | None, calls: LiveCalls | None = None,
                  stamp: Stamp | None = None) -> ErrorInfo | None:
    """Call the old module's teardown(), if it has one; an error in it is reported, not raised.
    `stamp`: the version of the file it makes way for (None: the file is gone)."""
    teardown = getattr(module, TEARDOWN, None) if module is not None else None
    if not callable(teardown):
        return None
    path = getattr(module, "__file__", "") or ""
    call: LiveCall | None = None
    try:
        with _entered(calls, path, "teardown()", stamp) as call:
            teardown()
    except BaseException as error:  # noqa: BLE001 - a live file's teardown must not stop the reload
        return error_info(error, path, interrupted=call.interrupt_reason if call else "")
    return None


def run_file(path: Path, name: str, registry: PatchRegistry, source: bytes | None = None,
             calls: LiveCalls | None = None, stamp: Stamp | None = None) -> RunResult:
    """Execute `path` (its `source`, read now when not given) as module `name`; on failure nothing
    it replaced stays replaced."""
    started = time.perf_counter()
    path_text = str(path)
    module = types.ModuleType(name)
    module.__file__ = path_text
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    previous = sys.modules.get(name)
    notes: list[str] = []
    call: LiveCall | None = None
    try:
        with registry.transaction(path_text) as transaction:
            notes = transaction.notes  # the same list: a rollback adds its notes to it
            if source is None:
                source = read_source(path).data
            code = compile(source, path_text, "exec", dont_inherit=True)
            _remember_source(path_text, source)
            # In sys.modules while it runs and afterwards: dataclasses, typing.get_type_hints and
            # pickle look a module up by its __name__ (pickle imports its packages first).
            _ensure_packages(name)
            sys.modules[name] = module
            with _entered(calls, path_text, "the file", stamp) as call:
                exec(code, module.__dict__)
    except BaseException as error:  # noqa: BLE001 - see the module docstring
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        return RunResult(
            ok=False, duration_ms=_elapsed(started), notes=list(notes),
            error=error_info(error, path_text, interrupted=call.interrupt_reason if call else ""),
        )
    return RunResult(
        ok=True, duration_ms=_elapsed(started), replaced=list(transaction.replaced),
        notes=list(transaction.notes), module=module, restored=list(transaction.restored),
        undone=list(transaction.undone),
    )


def _entered(calls: LiveCalls | None, path: str, what: str,
             stamp: Stamp | None) -> contextlib.AbstractContextManager[LiveCall | None]:
    """Mark live code as running for `calls`; the caller's frame is the boundary an interrupt never crosses."""
    if calls is None:
        return contextlib.nullcontext()
    return calls.entered(path, what, sys._getframe(1), stamp)


def _ensure_packages(name: str) -> None:
    """Empty packages for every parent of `name` (hotreload_live, hotreload_live.sub) that is not
    imported: with them `import hotreload_live.sub.file` finds the live module in sys.modules."""
    parts = name.split(".")[:-1]
    for end in range(1, len(parts) + 1):
        package_name = ".".join(parts[:end])
        if package_name not in sys.modules:
            package = types.ModuleType(package_name)
            package.__path__ = []  # a package whose submodules exist only in sys.modules
            sys.modules[package_name] = package


def forget_module(name: str) -> None:
    sys.modules.pop(name, None)


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
