"""The reloader: one worker thread that owns the observer, takes coalesced paths and runs them.

    watch (observer thread) -> PendingPaths -> worker: run_file in a transaction -> EventLog

Every file operation happens on the worker thread, so live files never run concurrently with
each other. Faults are contained here:
- an unexpected error while handling one path is reported and the worker goes on;
- once per HEALTH interval (also while busy) the worker checks that the observer and its emitters
  are alive and the folder exists; a dead observer is restarted with backoff (1 s, 2 s, 4 s ...),
  a vanished folder undoes its files' replacements until it is back, then watching resumes;
- an overseer thread reports live code that runs long ("still running after N s") and interrupts
  it when the file is saved again or deleted, or the reloader stops;
- exceptions that end threads started by live files are reported as that file's events.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .coalesce import PendingPaths
from .events import EventLog, ReloadEvent
from .registry import PatchRegistry, get_registry
from .runner import (
    GONE_ERRORS,
    LiveCall,
    LiveCalls,
    RunInterrupted,
    SourceTooLarge,
    call_teardown,
    error_info,
    file_stamp,
    forget_module,
    module_name_for,
    read_source,
    run_file,
)

log = logging.getLogger("hot_reload")
OBSERVER_JOIN_TIMEOUT = 2.0
HALF_WRITTEN_NS = 50_000_000  # an empty file younger than this is taken as a save in progress
WATCHDOG_FIX = ('install it into the webui\'s Python (restart the webui so install.py runs, or: '
                'python -m pip install "watchdog>=3,<8")')


@dataclass(frozen=True)
class Timings:
    """How often and how long the reloader waits. The defaults are for people; tests shorten them."""

    health_interval: float = 1.0  # check the observer and the folder this often
    running_notice_after: float = 3.0  # first "still running" notice; then after 2x, 4x ... as long
    interrupt_retry: float = 1.0  # ask a superseded run to stop again this often while it goes on
    backoff_first: float = 1.0  # wait before restarting a dead observer; doubles each time ...
    backoff_max: float = 60.0  # ... up to this
    backoff_reset_after: float = 30.0  # watching this long without a fault starts the doubling over


class WatchdogMissing(RuntimeError):
    pass


@dataclass
class LiveFile:
    path: Path
    module_name: str
    module: types.ModuleType | None = None  # the last good run's module
    needs_teardown: bool = False  # its teardown() has not run yet
    outcome: str = ""
    runs: int = 0
    stamp: tuple[int, int] | None = None  # of the source last read
    digest: bytes = b""  # of the source last run


class Reloader:
    def __init__(self, folder: Path, events: EventLog, registry: PatchRegistry, *,
                 force_polling: str = "", native_observer: Callable[[], Any] | None = None,
                 timings: Timings | None = None) -> None:
        self.folder = folder
        self.events = events
        self.registry = registry
        self.force_polling = force_polling
        self.native_observer = native_observer  # the observer to try first (see watch.start_observer)
        self.timings = timings or Timings()
        self.files: dict[str, LiveFile] = {}
        self.mode = "starting"
        self.mode_reason = ""
        self._pending = PendingPaths()
        self._calls = LiveCalls()
        self._rerun_all = threading.Event()
        self._stopping = threading.Event()
        self._undo_requested = False
        self._inactive = ""  # why the reloader cannot work at all (watchdog missing)
        self._thread: threading.Thread | None = None
        self._watch: Any = None
        self._watch_since = 0.0
        self._backoff = self.timings.backoff_first
        self._retry_at = 0.0
        self._last_watch_error = ""
        self._unreadable: set[str] = set()
        self._lock = threading.Lock()

    # -- control, from any thread ------------------------------------------------------------
    def start(self) -> None:
        """Idempotent: one worker thread at most, however often it is called. A worker that is
        still winding down after stop() serves again instead of ending."""
        with self._lock:
            if self._inactive:
                return
            self._stopping.clear()
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._work, name="hot-reload-worker", daemon=True)
            self._thread.start()
        _report_thread_exceptions(self)

    def stop(self, timeout: float = 5.0, *, undo: bool = False) -> None:
        """Stop watching; with `undo`, also undo every live file's replacements (their teardown()
        runs). Live code still running is interrupted. Returns after `timeout` at most: code blocked
        in a call Python cannot interrupt finishes later, and the worker then completes the stop."""
        with self._lock:
            self._stopping.set()
            self._undo_requested = self._undo_requested or undo
            thread = self._thread if self._thread is not None and self._thread.is_alive() else None
            self._pending.wake()
        with self._calls.changed:
            self._calls.changed.notify_all()  # the overseer interrupts at once
        if thread is None:
            if undo:
                self._undo(stopping=True)
        elif thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    @property
    def observer(self) -> Any:
        """The watchdog observer watching now, or None."""
        watch = self._watch
        return watch.observer if watch is not None else None

    def rerun_all(self) -> None:
        """Run every live file again (after the host re-created the objects they patched)."""
        self._rerun_all.set()
        self._pending.wake()

    def status(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "running": self.running,
            "mode": self.mode,
            "mode_reason": self.mode_reason,
            "files": {self._display(Path(p)): f.outcome for p, f in sorted(self.files.items())},
            "pending": len(self._pending),
        }

    # -- the worker ------------------------------------------------------------------------
    def _work(self) -> None:
        done = threading.Event()
        overseer = threading.Thread(target=self._oversee, args=(done,), name="hot-reload-overseer", daemon=True)
        overseer.start()
        try:
            while True:
                if not self._stopping.is_set():
                    self._serve()
                with self._lock:
                    undo, self._undo_requested = self._undo_requested, False
                self._wind_down(undo)
                with self._lock:
                    # Decided under the lock start() takes: either start() sees no worker and makes
                    # one, or this worker sees the stop withdrawn and serves again.
                    if self._stopping.is_set() and not self._undo_requested:
                        self._thread = None
                        return
        finally:
            with self._calls.changed:
                done.set()
                self._calls.changed.notify_all()

    def _serve(self) -> None:
        """Watch and run until stopping. Nothing raised while handling one path ends this."""
        try:
            self._retry_at = 0.0
            self._guarded(self._check_health, first=True)
            self._guarded(self._run_all)
            if self._watch is not None:
                self._announce()
            next_health = time.monotonic() + self.timings.health_interval
            while not self._stopping.is_set():
                paths = self._pending.take_due(self.timings.health_interval)
                if self._stopping.is_set():
                    break
                if self._rerun_all.is_set():
                    self._guarded(self._run_all)
                for path in paths:
                    if self._stopping.is_set():
                        break  # what is left is found by the scan of the next start
                    self._guarded(self._process, Path(path))
                # Also while busy: a storm of saves must not keep a dead observer unnoticed.
                if time.monotonic() >= next_health:
                    self._guarded(self._check_health)
                    next_health = time.monotonic() + self.timings.health_interval
        except WatchdogMissing as error:
            with self._lock:
                self._inactive = str(error)
                self._stopping.set()
            self.mode, self.mode_reason = "inactive", str(error)
            self._notice(f"hot reload is inactive: {error}", "error")

    def _guarded(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            action(*args, **kwargs)
        except WatchdogMissing:
            raise
        except (Exception, RunInterrupted) as error:  # a bug here must not end the reloader
            log.exception("[Hot Reload] internal error in %s", getattr(action, "__name__", action))
            where = Path(args[0]) if args and isinstance(args[0], Path) else self.folder
            self._publish(where, "error", f"internal error of the reloader (it goes on): {error!r}",
                          error=error_info(error, str(where)))

    def _wind_down(self, undo: bool) -> None:
        self._stop_watching()
        if not self._inactive:
            self.mode = "stopped"
        if undo:
            self._undo(stopping=True)

    def _undo(self, *, stopping: bool = False) -> None:
        for key in sorted(self.files):
            live = self.files.get(key)
            if live is not None:
                self._remove(live.path, stopping=stopping)

    # -- watching ---------------------------------------------------------------------------
    def _start_watching(self) -> None:
        try:
            from .watch import start_observer
        except ImportError as error:
            raise WatchdogMissing(f"the Python package watchdog is missing ({error}): {WATCHDOG_FIX}") from error
        options = {"native": self.native_observer} if self.native_observer is not None else {}
        self._watch = start_observer(self.folder, self._pending.add, force_polling=self.force_polling, **options)
        self._watch_since = time.monotonic()

    def _announce(self) -> None:
        """Say how the folder is watched. At start only once the files present have run: who reads
        the line (or waits for the mode) can save and know the save is not mixed into that first pass."""
        watch = self._watch
        self.mode, self.mode_reason = watch.mode, f"{watch.backend}: {watch.reason}"
        if watch.fallback:
            log.warning("[Hot Reload] watching %s by polling: %s", self.folder, watch.reason)
            self._notice(f"native file events are not available, polling every {watch.observer.timeout:g} s: "
                         f"{watch.reason}", "info", log_it=False)
        else:
            log.info("[Hot Reload] watching %s (%s, %s)", self.folder, watch.mode, self.mode_reason)

    def _stop_watching(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            try:
                watch.observer.stop()
                # Joined so that a stop is complete: a reloader started right after (Reload UI,
                # re-enabling) never overlaps a second observer with this one.
                if watch.observer is not threading.current_thread():
                    watch.observer.join(OBSERVER_JOIN_TIMEOUT)
            except Exception:
                log.debug("observer stop failed", exc_info=True)

    def _check_health(self, first: bool = False) -> None:
        now = time.monotonic()
        watch = self._watch
        if not self.folder.is_dir():
            if watch is not None or first or self.mode != "waiting":
                self._stop_watching()
                self.mode, self.mode_reason = "waiting", f"{self.folder} does not exist"
                self._undo()
                self._notice(f"the live folder {self.folder} does not exist (deleted or renamed?): its files' "
                             "replacements are undone; watching resumes when it is back", "info")
            return
        if watch is not None:
            if watch.is_alive():
                if now - self._watch_since >= self.timings.backoff_reset_after:
                    self._backoff = self.timings.backoff_first
                return
            self._stop_watching()
            delay = self._next_backoff(now)
            self.mode, self.mode_reason = "restarting", f"the watcher stopped; restarting in {delay:g} s"
            self._notice(f"the file watcher stopped unexpectedly; restarting it in {delay:g} s", "info")
            return
        if now < self._retry_at:
            return
        try:
            self._start_watching()
        except WatchdogMissing:
            raise
        except Exception as error:  # noqa: BLE001 - watchdog raises more than OSError; retried with backoff
            delay = self._next_backoff(now)
            self.mode, self.mode_reason = "restarting", f"cannot watch: {error}"
            if str(error) != self._last_watch_error:
                self._last_watch_error = str(error)
                self._notice(f"cannot watch {self.folder}: {error}; trying again in {delay:g} s "
                             "(and later, less often)", "error")
            return
        self._last_watch_error = ""
        if not first:
            self._announce()
            self._notice(f"watching {self.folder} again ({self.mode})", "info")
            self._resync(self.folder)

    def _next_backoff(self, now: float) -> float:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self.timings.backoff_max)
        self._retry_at = now + delay
        return delay

    # -- files ------------------------------------------------------------------------------
    def _scan(self, root: Path) -> list[Path]:
        from .watch import is_live_file, is_watched_dir

        found: list[Path] = []
        # Symlinked folders are listed but not entered (followlinks=False), as the observers do.
        for directory, dirnames, filenames in os.walk(root, onerror=self._unreadable_folder):
            dirnames[:] = sorted(d for d in dirnames if is_watched_dir(self.folder, os.path.join(directory, d)))
            found += [Path(directory, name) for name in sorted(filenames)
                      if is_live_file(self.folder, os.path.join(directory, name))]
        return found

    def _unreadable_folder(self, error: OSError) -> None:
        where = str(error.filename or "")
        if where and where not in self._unreadable and os.path.exists(where):
            self._unreadable.add(where)
            self._publish(Path(where), "error", f"cannot read this folder ({error.strerror}): the files in it "
                          "are not run", error=error_info(error, where))

    def _run_all(self) -> None:
        self._rerun_all.clear()
        self._unreadable.clear()
        present = self._scan(self.folder) if self.folder.is_dir() else []
        self._drop_missing(self.folder, present)
        for path in present:
            if self._stopping.is_set():
                return
            self._run(path)

    def _resync(self, root: Path) -> None:
        """After events may have been missed below `root`: undo what is gone, run what is new or changed."""
        present = self._scan(root) if root.is_dir() else []
        self._drop_missing(root, present)
        for path in present:
            if self._stopping.is_set():
                return
            live = self.files.get(str(path))
            if live is None or live.stamp != file_stamp(path):
                self._run(path)

    def _drop_missing(self, root: Path, present: list[Path]) -> None:
        keep = {str(path) for path in present}
        prefix = str(root) + os.sep
        for key in sorted(k for k in self.files if k.startswith(prefix) and k not in keep):
            self._remove(self.files[key].path)

    def _process(self, path: Path) -> None:
        from .watch import is_live_file

        if os.path.islink(path) and os.path.isdir(path):
            self._forget(path, file_too=False)  # a symlinked folder is not followed
        elif os.path.isdir(path):
            self._resync(path)
        elif is_live_file(self.folder, path):
            self._run(path, again=False)  # reading it tells whether it still exists
        else:
            self._forget(path, file_too=False)  # a folder that is gone

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
            self._publish(path, "error", f"{info.summary} ({self._kept(live)})", error=info)
            return
        if not again and not source.data and time.time_ns() - source.stamp[0] < HALF_WRITTEN_NS:
            # Empty and just written: most often a save caught between its truncation and its write
            # (a storm of saves, format-on-save). Running it would undo every replacement until the
            # next run; its close event, or this retry, runs what the file holds by then.
            self._pending.add(str(path), HALF_WRITTEN_NS / 1e9)
            return
        live = self._live_file(path)
        digest = source.digest
        if not again and live.runs and (live.stamp, live.digest) == (source.stamp, digest):
            return
        live.stamp = source.stamp  # set now: the overseer compares the file on disk with it
        teardown_error = call_teardown(live.module, self._calls) if live.needs_teardown else None
        live.needs_teardown = False
        result = run_file(path, live.module_name, self.registry, source.data, self._calls)
        live.runs += 1
        live.digest = digest
        notes = list(result.notes)
        if teardown_error is not None:
            notes.insert(0, f"teardown() failed: {teardown_error.summary}")
        if result.ok:
            live.module, live.outcome, live.needs_teardown = result.module, "ok", True
            what = ", ".join(f"{r.target} ({r.mode})" for r in result.replaced) or "nothing replaced"
            self._publish(path, "ok", f"reloaded in {result.duration_ms:.1f} ms: {what}",
                          duration_ms=result.duration_ms,
                          replaced=tuple({"target": r.target, "mode": r.mode, "note": r.note} for r in result.replaced),
                          notes=tuple(notes))
        else:
            assert result.error is not None
            live.outcome = "error"
            self._publish(path, "error", f"{result.error.summary} ({self._kept(live)})",
                          duration_ms=result.duration_ms, notes=tuple(notes), error=result.error)

    @staticmethod
    def _kept(live: LiveFile) -> str:
        return "kept the last good version" if live.module is not None else "nothing replaced"

    def _remove(self, path: Path, *, stopping: bool = False) -> None:
        """Undo a live file's replacements: the file is gone, or (`stopping`) hot reload stops."""
        live = self.files.pop(str(path), None)
        if live is None:
            return
        teardown_error = call_teardown(live.module, self._calls) if live.needs_teardown else None
        restored, kept = self.registry.drop_owner(str(path))
        forget_module(live.module_name)
        notes = [f"teardown() failed: {teardown_error.summary}"] if teardown_error else []
        what = ", ".join(restored) or "nothing to restore"
        if stopping:
            # The file is still there: not a "Removed" toast, which would send the user looking for it.
            self._publish(path, "info", f"hot reload stopped: restored {what}", restored=tuple(restored),
                          notes=tuple(notes + kept))
        else:
            self._publish(path, "removed", f"removed: restored {what}", restored=tuple(restored),
                          notes=tuple(notes + kept))

    # -- the overseer: live code that runs long -------------------------------------------
    def _oversee(self, done: threading.Event) -> None:
        calls = self._calls
        while True:
            with calls.changed:
                calls.changed.wait_for(lambda: calls.current is not None or done.is_set())
                if done.is_set():
                    return
                call = calls.current
            if call is not None:
                self._watch_over(call, done)

    def _watch_over(self, call: LiveCall, done: threading.Event) -> None:
        """Until `call` ends: say it still runs after N, 2N, 4N ... s; interrupt it when superseded."""
        calls, timings = self._calls, self.timings
        notice_after = timings.running_notice_after
        next_attempt = 0.0
        stop_seen = False
        while True:
            with calls.changed:
                if calls.current is not call or done.is_set():
                    return
                elapsed = time.monotonic() - call.started
                stopping = self._stopping.is_set()
                if stopping and not stop_seen:
                    stop_seen = True  # act on a stop at once (stop() notifies)
                elif stopping or elapsed >= timings.running_notice_after:
                    calls.changed.wait(0.1)  # look again for a stop or a newer save of the file
                else:
                    # Before the first notice only a stop can interrupt: wait for it or the notice.
                    calls.changed.wait(timings.running_notice_after - elapsed)
                if calls.current is not call or done.is_set():
                    return
            now = time.monotonic()
            elapsed = now - call.started
            reason = self._supersession(call, elapsed)
            if reason and now >= next_attempt:
                # Retried at the next look while it sits in the engine; less often once asked.
                next_attempt = now + timings.interrupt_retry if calls.interrupt(call, reason) else now
            if elapsed >= notice_after:
                asked = f"; interrupt asked: {call.interrupt_reason}" if call.interrupt_reason else ""
                subject = "still running" if call.what == "the file" else f"{call.what} still running"
                self._publish(Path(call.path), "running", f"{subject} after {elapsed:.0f} s{asked}",
                              duration_ms=round(elapsed * 1000, 3))
                notice_after *= 2

    def _supersession(self, call: LiveCall, elapsed: float) -> str:
        """Why `call` should stop now, if it should: the reloader stops, or (once it runs long) its
        file on disk is no longer the version that runs. Asked of the disk, not of file events: the
        observer may be dead, and only the worker, busy with this very call, would restart it.
        A save while a short run goes on just queues a rerun."""
        if self._stopping.is_set():
            return "the reloader is stopping"
        if elapsed < self.timings.running_notice_after:
            return ""
        live = self.files.get(call.path)  # gone from `files` while its removal calls teardown()
        on_disk = file_stamp(Path(call.path))
        if on_disk == (live.stamp if live is not None else None):
            return ""
        return "the file was saved again" if on_disk is not None else "the file was deleted"

    # -- threads started by live files ---------------------------------------------------
    def _thread_failed(self, args: Any) -> None:
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
        self._publish(Path(path), "error", f"thread {name!r} ended with {info.summary} "
                      "(the file's replacements stay active)", error=info)

    # -- events -----------------------------------------------------------------------------
    def _display(self, path: Path) -> str:
        try:
            return path.relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)

    def _publish(self, path: Path, outcome: str, message: str, *, log_it: bool = True,
                 **fields: Any) -> ReloadEvent:
        fields.update(file=self._display(path), path=str(path), outcome=outcome, message=message)
        if log_it:
            # Logged first: whoever the event wakes finds the console line already written.
            level = {"error": logging.ERROR, "running": logging.WARNING}.get(outcome, logging.INFO)
            log.log(level, ReloadEvent(seq=0, time=0.0, **fields).log_line())
        return self.events.publish(**fields)

    def _notice(self, message: str, outcome: str, *, log_it: bool = True) -> None:
        self._publish(self.folder, outcome, message, log_it=log_it)


# -- exceptions that end threads: reported to the reloaders whose files the traceback passes --------
_reporting: weakref.WeakSet[Reloader] = weakref.WeakSet()
_hook_lock = threading.Lock()
_wrapped_hooks: list[Callable[[Any], Any]] = []  # the hook found before ours; empty until installed


def _report_thread_exceptions(reloader: Reloader) -> None:
    with _hook_lock:
        _reporting.add(reloader)
        if not _wrapped_hooks:
            _wrapped_hooks.append(threading.excepthook)
            threading.excepthook = _thread_excepthook


def _thread_excepthook(args: Any) -> None:
    try:
        if args.exc_type is not None and not issubclass(args.exc_type, SystemExit):
            for reloader in list(_reporting):
                if reloader.running:
                    reloader._thread_failed(args)
    except Exception:
        log.debug("reporting a thread's exception failed", exc_info=True)
    _wrapped_hooks[0](args)  # the traceback still goes where it went before


# -- the one reloader of this process (survives "Reload UI": the host keeps sys.modules) ----------
_state_lock = threading.Lock()
_reloader: Reloader | None = None
_events: EventLog | None = None


def get_events() -> EventLog:
    global _events
    with _state_lock:
        if _events is None:
            _events = EventLog()
        return _events


def get_reloader() -> Reloader | None:
    return _reloader


def ensure_started(folder: Path, *, force_polling: str = "",
                   on_new: Callable[[Reloader], None] | None = None) -> Reloader:
    """Start the process's reloader for `folder`, or return the one already running for it.

    A different folder stops the old reloader (its files' replacements are undone) first.
    """
    global _reloader
    events = get_events()
    with _state_lock:
        current = _reloader
        if current is not None and current.folder == folder and current.force_polling == force_polling:
            current.start()
            return current
        _reloader = Reloader(folder, events, get_registry(), force_polling=force_polling)
        reloader = _reloader
    if current is not None:
        shutdown(current)
    if on_new is not None:
        on_new(reloader)
    reloader.start()
    return reloader


def shutdown(reloader: Reloader | None = None) -> None:
    """Stop watching and undo every live file's replacements (the extension was disabled)."""
    global _reloader
    with _state_lock:
        target = reloader or _reloader
        if target is _reloader:
            _reloader = None
    if target is not None:
        target.stop(undo=True)
