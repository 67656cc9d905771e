"""Run one live file as a fresh module, inside a patch transaction, and say what happened.

Nothing a live file does escapes this module: every exception, SystemExit and KeyboardInterrupt
included, becomes an error result, and the transaction puts the file's last good replacements back.
"""
from __future__ import annotations

import linecache
import os
import re
import sys
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from tokenize import detect_encoding

from .events import ErrorInfo
from .registry import PatchRegistry, ReplacementInfo

LIVE_PACKAGE = "hotreload_live"
TEARDOWN = "teardown"


@dataclass
class RunResult:
    ok: bool
    duration_ms: float
    replaced: list[ReplacementInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: ErrorInfo | None = None
    module: types.ModuleType | None = None


def module_name_for(folder: Path, path: Path) -> str:
    """A stable, importable-looking `__name__` for a live file: hotreload_live.sub.file_name."""
    relative = path.relative_to(folder).with_suffix("")
    parts = [re.sub(r"\W", "_", part) or "_" for part in relative.parts]
    return ".".join([LIVE_PACKAGE, *parts])


def error_info(error: BaseException, path: str) -> ErrorInfo:
    """Type, message, the line in the live file (the deepest frame there), and the traceback."""
    line: int | None = None
    if isinstance(error, SyntaxError) and error.filename == path:
        line = error.lineno
    else:
        for frame, lineno in traceback.walk_tb(error.__traceback__):
            if frame.f_code.co_filename == path:
                line = lineno
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    message = str(error) if not isinstance(error, SyntaxError) else (error.msg or str(error))
    if isinstance(error, SystemExit):
        message = f"the file called sys.exit({error.code!r}); ignored"
    return ErrorInfo(type=type(error).__name__, message=message, file=path, line=line, traceback=text)


def _remember_source(path: str, source: bytes) -> None:
    """Put the source that runs into linecache, so tracebacks and inspect show these very lines
    even after the file changes again on disk."""
    try:
        stat = os.stat(path)
        text = source.decode(_source_encoding(source), errors="replace")
    except (OSError, LookupError):
        return
    linecache.cache[path] = (stat.st_size, stat.st_mtime, text.splitlines(keepends=True), path)


def _source_encoding(source: bytes) -> str:
    readline = iter(source.splitlines(keepends=True)).__next__
    try:
        return detect_encoding(readline)[0]
    except SyntaxError:
        return "utf-8"


def call_teardown(module: types.ModuleType | None) -> ErrorInfo | None:
    """Call the old module's teardown(), if it has one; an error in it is reported, not raised."""
    teardown = getattr(module, TEARDOWN, None) if module is not None else None
    if not callable(teardown):
        return None
    try:
        teardown()
    except BaseException as error:  # noqa: BLE001 - a live file's teardown must not stop the reload
        return error_info(error, getattr(module, "__file__", "") or "")
    return None


def run_file(path: Path, name: str, registry: PatchRegistry) -> RunResult:
    """Execute `path` as module `name`; on failure nothing it replaced stays replaced."""
    started = time.perf_counter()
    path_text = str(path)
    module = types.ModuleType(name)
    module.__file__ = path_text
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    previous = sys.modules.get(name)
    notes: list[str] = []
    try:
        with registry.transaction(path_text) as transaction:
            notes = transaction.notes  # the same list: a rollback adds its notes to it
            source = path.read_bytes()
            code = compile(source, path_text, "exec", dont_inherit=True)
            _remember_source(path_text, source)
            # In sys.modules while it runs and afterwards: dataclasses, typing.get_type_hints and
            # pickle look a module up by its __name__.
            sys.modules[name] = module
            exec(code, module.__dict__)
    except BaseException as error:  # noqa: BLE001 - see the module docstring
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        return RunResult(
            ok=False, duration_ms=_elapsed(started), notes=list(notes),
            error=error_info(error, path_text),
        )
    return RunResult(
        ok=True, duration_ms=_elapsed(started), replaced=list(transaction.replaced),
        notes=list(transaction.notes), module=module,
    )


def forget_module(name: str) -> None:
    sys.modules.pop(name, None)


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
