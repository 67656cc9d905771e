"""The live folder: every .py file in it runs as a live file, again on every save, and what it
replaced is undone when it changes or goes. One `LiveFile` record per file; the reloader's worker
thread calls in here one path at a time, so live files never run concurrently with each other.
"""
from __future__ import annotations

import os
import threading
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..events import ReloadEvent, Reporter
from ..hooks import HostHooks
from ..patch.registry import PatchRegistry
from .runner import (
    GONE_ERRORS,
    LiveCalls,
    SourceTooLarge,
    Stamp,
    call_teardown,
    error_info,
    file_stamp,
    forget_module,
    module_name_for,
    read_source,
    run_file,
)

HALF_WRITTEN_NS = 50_000_000  # an empty file younger than this is taken as a save in progress
CALL_ERROR_QUIET = 5.0  # s between two reports of a replacement that raises when called


@dataclass
class LiveFile:
    path: Path
    module_name: str
    module: types.ModuleType | None = None  # the last good run's module
    needs_teardown: bool = False  # its teardown() has not run yet
    outcome: str = ""
    failure: ReloadEvent | None = None  # the error event of the last run, while it is the last word
    runs: int = 0
    stamp: Stamp | None = None  # of the source last read
    digest: bytes = b""  # of the source last run


class LiveFolder:
    """The WatchedRoot of live files. `requeue(path, delay)` asks the worker to come back to a path
    later; `stopping()` says that the worker is winding down (a long pass ends early)."""

    def __init__(self, folder: Path, registry: PatchRegistry, calls: LiveCalls, reporter: Reporter,
                 host: HostHooks, *, requeue: Callable[[str, float], None], stopping: Callable[[], bool],
                 excluded: Callable[[], list[Path]] = list) -> None:
        self.folder = folder
        self.registry = registry
        self.calls = calls
        self.reporter = reporter
        self.host = host
        self.requeue = requeue
        self.stopping = stopping
        self.excluded = excluded  # folders inside it whose files are not live files (tracked trees)
        self.files: dict[str, LiveFile] = {}
        self._unreadable: set[str] = set()
        self._said_extension_like = False
        self._call_errors: dict[str, float] = {}  # target -> when its last call error was reported
        self._call_errors_lock = threading.Lock()

    # -- WatchedRoot ------------------------------------------------------------------------
    def sync(self, *, again: bool) -> None:
        if not again:
            self._resync(self.folder)
            return
        self._unreadable.clear()
        self._say_if_extension_like()
        present = self._scan(self.folder) if self.folder.is_dir() else []
        self._drop_missing(self.folder, present)
        for path in present:
            if self.stopping():
                return
            self._run(path)

    def handle(self, path: Path) -> None:
        from ..watching.watch import is_live_file

        if os.path.islink(path) and os.path.isdir(path):
            self._forget(path, file_too=False)  # a symlinked folder is not followed
        elif os.path.isdir(path):
            self._resync(path)
        elif is_live_file(self.folder, path):
            self._run(path, again=False)  # reading it tells whether it still exists
        else:
            self._forget(path, file_too=False)  # a folder that is gone

    def release(self, *, stopping: bool) -> None:
        for key in sorted(self.files):
            live = self.files.get(key)
            if live is not None:
                self._remove(live.path, stopping=stopping)

    # -- what the status view and thread reports need -----------------------------------------
    def outcomes(self) -> dict[str, str]:
        return {self.reporter.display(Path(p)): f.outcome for p, f in sorted(self.files.items())}

    def failures(self) -> list[ReloadEvent]:
        """The error event of each file that is failing now, in path order."""
        return [live.failure for _, live in sorted(self.files.items()) if live.failure is not None]

    def call_failed(self, owner: str, target: str, error: BaseException) -> None:
        """A replacement of one of these files raised while the webui called it (on the caller's
        thread): an error event, at most one per target per CALL_ERROR_QUIET s (a replacement that
        fails on every step of a generation must not flood the page). The caller gets the exception."""
        if owner not in self.files:
            return
        now = time.monotonic()
        with self._call_errors_lock:
            if now - self._call_errors.get(target, -CALL_ERROR_QUIET) < CALL_ERROR_QUIET:
                return
            self._call_errors[target] = now
        info = error_info(error, owner)
        self.reporter.publish(Path(owner), "error", f"raised in your replacement of {target}: {info.summary} "
                              "(the call failed; the replacement stays active)", error=info, during="call")

    def thread_failed(self, args: Any) -> None:
        """Report an exception that ended a thread, as an event of the live file in its traceback."""
        known = set(self.files)
        path = ""
        for frame, _ in traceback.walk_tb(args.exc_traceback):
            if frame.f_code.co_filename in known:
                path = frame.f_code.co_filename
        if not path or args.exc_value is None:
            return
        info = error_info(args.exc_value, path)
        name = getattr(args.thread, "name", "?")
        self.reporter.publish(Path(path), "error", f"thread {name!r} ended with {info.summary} "
                              "(the file's replacements stay active)", error=info)

    # -- files ------------------------------------------------------------------------------
    def _scan(self, root: Path) -> list[Path]:
        from ..watching.watch import is_live_file, is_watched_dir

        found: list[Path] = []
        excluded = {str(folder) for folder in self.excluded()}
        if str(root) in excluded or any(str(root).startswith(folder + os.sep) for folder in excluded):
            return found
        # Symlinked folders are listed but not entered (followlinks=False), as the observers do.
        for directory, dirnames, filenames in os.walk(root, onerror=self._unreadable_folder):
            dirnames[:] = sorted(d for d in dirnames if is_watched_dir(self.folder, os.path.join(directory, d))
                                 and os.path.join(directory, d) not in excluded)
            found += [Path(directory, name) for name in filenames
                      if is_live_file(self.folder, os.path.join(directory, name))]
        # Plain path order (a/x.py before b.py), not the walk's files-before-folders order.
        return sorted(found, key=lambda path: path.relative_to(root).parts)

    def _say_if_extension_like(self) -> None:
        """Once: a live folder that is an extension (scripts/, preload.py, install.py) wants tracking,
        which updates its loaded modules, rather than running each of its files again as new ones."""
        marks = [name for name in ("scripts", "preload.py", "install.py") if (self.folder / name).exists()]
        if marks and not self._said_extension_like:
            self._said_extension_like = True
            self.reporter.notice(
                f"the live folder looks like an extension (it holds {', '.join(marks)}): its files run here as "
                "separate live files. To develop an extension, track it instead (--hot-reload-track DIR, or "
                "Settings → Hot Reload → Extensions developed live): its loaded modules then follow your edits",
                "info")

    def _unreadable_folder(self, error: OSError) -> None:
        where = str(error.filename or "")
        if where and where not in self._unreadable and os.path.exists(where):
            self._unreadable.add(where)
            self.reporter.publish(Path(where), "error", f"cannot read this folder ({error.strerror}): the files "
                                  "in it are not run", error=error_info(error, where))

    def _resync(self, root: Path) -> None:
        """After events may have been missed below `root`: undo what is gone, run what is new or changed."""
        present = self._scan(root) if root.is_dir() else []
        self._drop_missing(root, present)
        for path in present:
            if self.stopping():
                return
            live = self.files.get(str(path))
            if live is None or live.stamp != file_stamp(path):
                self._run(path)

    def _drop_missing(self, root: Path, present: list[Path]) -> None:
        keep = {str(path) for path in present}
        prefix = str(root) + os.sep
        for key in sorted(k for k in self.files if k.startswith(prefix) and k not in keep):
            self._remove(self.files[key].path)

    def _forget(self, path: Path, *, file_too: bool = True) -> None:
        """`path` is gone: undo its own replacements (a file) and those of every file below it (a folder)."""
        prefix = str(path) + os.sep
        doomed = [k for k in self.files if k.startswith(prefix)]
        if file_too:
            doomed.append(str(path))
        for key in sorted(doomed):
            self._remove(Path(key))

    def _live_file(self, path: Path) -> LiveFile:
        live = self.files.get(str(path))
        if live is None:
            live = self.files[str(path)] = LiveFile(path, module_name_for(self.folder, path))
        return live

    def _run(self, path: Path, *, again: bool = True) -> None:
        """Run `path` as it is now. Without `again`, not when exactly this version of it (same bytes,
        same mtime) ran last: the late events of one save (a busy machine spreads them out, a new
        folder is both scanned and reported file by file) run it once. A save, even of the same
        bytes, changes the mtime and runs."""
        try:
            source = read_source(path)
        except GONE_ERRORS:
            # Deleted or renamed between its event and now: that is a removal, not an error.
            self._forget(path)
            return
        except IsADirectoryError:
            self._resync(path)
            return
        except (OSError, SourceTooLarge) as error:
            live = self._live_file(path)
            live.outcome, live.stamp = "error", file_stamp(path)
            info = error_info(error, str(path))
            live.failure = self.reporter.publish(path, "error", f"{info.summary} ({self._kept(live)})", error=info)
            return
        if not again and not source.data and time.time_ns() - source.stamp[0] < HALF_WRITTEN_NS:
            # Empty and just written: most often a save caught between its truncation and its write
            # (a storm of saves, format-on-save). Running it would undo every replacement until the
            # next run; its close event, or this retry, runs what the file holds by then.
            self.requeue(str(path), HALF_WRITTEN_NS / 1e9)
            return
        live = self._live_file(path)
        digest = source.digest
        if not again and live.runs and (live.stamp, live.digest) == (source.stamp, digest):
            return
        live.stamp = source.stamp
        teardown_error = call_teardown(live.module, self.calls, source.stamp) if live.needs_teardown else None
        live.needs_teardown = False
        # The webui callbacks the last run registered are the file's, like its replacements: taken
        # away before it runs again, so a save never registers them twice.
        held_callbacks = self.host.lift_callbacks(str(path))
        result = run_file(path, live.module_name, self.registry, source.data, self.calls, source.stamp)
        if not result.ok:
            self.host.lift_callbacks(str(path))  # what the failed run registered goes ...
            self.host.put_back_callbacks(held_callbacks)  # ... and the last good run's come back
        live.runs += 1
        live.digest = digest
        notes = list(result.notes)
        if teardown_error is not None:
            notes.insert(0, f"teardown() failed: {teardown_error.summary}")
        if result.ok:
            live.module, live.outcome, live.needs_teardown, live.failure = result.module, "ok", True, None
            others = [(target, owner) for target, owner in result.undone if owner != str(path)]
            notes += [f"its restore() undid {target} of {self.reporter.display(Path(owner))}"
                      for target, owner in others]
            what = [", ".join(f"{r.target} ({r.mode})" for r in result.replaced)] if result.replaced else []
            if result.restored:
                what.append(f"restored {', '.join(result.restored)} (no longer replaced)")
            self.reporter.publish(
                path, "ok", f"reloaded in {result.duration_ms:.1f} ms: {'; '.join(what) or 'nothing replaced'}",
                duration_ms=result.duration_ms,
                replaced=tuple({"target": r.target, "mode": r.mode, "note": r.note} for r in result.replaced),
                restored=tuple(dict.fromkeys([*result.restored, *(target for target, _ in others)])),
                notes=tuple(notes))
        else:
            assert result.error is not None
            live.outcome = "error"
            live.failure = self.reporter.publish(
                path, "error", f"{result.error.summary} ({self._kept(live)})", duration_ms=result.duration_ms,
                notes=tuple(notes), error=result.error)

    @staticmethod
    def _kept(live: LiveFile) -> str:
        return "kept the last good version" if live.module is not None else "nothing replaced"

    def _remove(self, path: Path, *, stopping: bool = False) -> None:
        """Undo a live file's replacements: the file is gone, or (`stopping`) hot reload stops."""
        live = self.files.pop(str(path), None)
        if live is None:
            return
        teardown_error = call_teardown(live.module, self.calls) if live.needs_teardown else None
        restored, kept = self.registry.drop_owner(str(path))
        self.host.lift_callbacks(str(path))
        forget_module(live.module_name)
        notes = [f"teardown() failed: {teardown_error.summary}"] if teardown_error else []
        what = f"restored {', '.join(restored)}" if restored else "it had replaced nothing"
        if stopping:
            # The file is still there: not a "Removed" toast, which would send the user looking for it.
            self.reporter.publish(path, "info", f"hot reload stopped: {what}", restored=tuple(restored),
                                  notes=tuple(notes + kept))
        else:
            self.reporter.publish(path, "removed", f"removed: {what}", restored=tuple(restored),
                                  notes=tuple(notes + kept))
