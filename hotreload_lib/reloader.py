"""The reloader: one worker thread that owns the observer, takes coalesced paths and runs them.

    watch (observer thread) -> PendingPaths -> worker: run_file in a transaction -> EventLog

Every file operation happens on the worker thread, so live files never run concurrently with
each other. The worker also checks, once a second while idle, that the observer is alive and the
folder is still there, and restarts watching when either comes back.
"""
from __future__ import annotations

import logging
import os
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .coalesce import PendingPaths
from .events import EventLog, ReloadEvent
from .registry import PatchRegistry, get_registry
from .runner import call_teardown, forget_module, module_name_for, run_file

log = logging.getLogger("hot_reload")
HEALTH_INTERVAL = 1.0
OBSERVER_JOIN_TIMEOUT = 2.0


class WatchdogMissing(RuntimeError):
    pass


@dataclass
class LiveFile:
    path: Path
    module_name: str
    module: types.ModuleType | None = None
    outcome: str = ""
    runs: int = 0


class Reloader:
    def __init__(self, folder: Path, events: EventLog, registry: PatchRegistry, *,
                 force_polling: str = "") -> None:
        self.folder = folder
        self.events = events
        self.registry = registry
        self.force_polling = force_polling
        self.files: dict[str, LiveFile] = {}
        self.mode = "starting"
        self.mode_reason = ""
        self._pending = PendingPaths()
        self._rerun_all = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: Any = None
        self._lock = threading.Lock()

    # -- control, from any thread ------------------------------------------------------------
    def start(self) -> None:
        """Idempotent: one worker thread at most, however often it is called."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._work, name="hot-reload-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread = self._thread
            self._stopping.set()
            self._pending.wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

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
        try:
            self._start_watching()
            self._run_all()
            while not self._stopping.is_set():
                paths = self._pending.take_due(HEALTH_INTERVAL)
                if self._stopping.is_set():
                    break
                if self._rerun_all.is_set():
                    self._run_all()
                for path in paths:
                    self._process(Path(path))
                if not paths:
                    self._check_health()
        except WatchdogMissing as error:
            self.mode, self.mode_reason = "inactive", str(error)
            self._notice(f"hot reload is inactive: {error}", outcome="error")
        except BaseException as error:
            log.exception("[Hot Reload] the reloader stopped: %s", error)
            self._notice(f"the reloader stopped: {error!r}", outcome="error")
        finally:
            self._stop_watching()
            self.mode = "stopped"

    def _start_watching(self) -> bool:
        if not self.folder.is_dir():
            self.mode, self.mode_reason = "waiting", f"{self.folder} does not exist"
            return False
        try:
            from .watch import start_observer
        except ImportError as error:
            raise WatchdogMissing(
                f"the Python package watchdog is missing ({error}): install it into the webui's Python "
                '(restart the webui so install.py runs, or: python -m pip install "watchdog>=3,<7")'
            ) from error
        watch = start_observer(self.folder, self._pending.add, force_polling=self.force_polling)
        self._watch = watch
        self.mode, self.mode_reason = watch.mode, f"{watch.backend}: {watch.reason}"
        log.info("[Hot Reload] watching %s (%s, %s)", self.folder, watch.mode, self.mode_reason)
        return True

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

    def _check_health(self) -> None:
        observer = self._watch.observer if self._watch is not None else None
        if observer is not None and observer.is_alive() and self.folder.is_dir():
            return
        was_watching = observer is not None
        self._stop_watching()
        if not self.folder.is_dir():
            if was_watching:
                self._notice(f"the live folder {self.folder} is gone; waiting for it to come back", "info")
                for key in sorted(self.files):
                    self._remove(self.files[key].path)
            self.mode, self.mode_reason = "waiting", f"{self.folder} does not exist"
            return
        if self._start_watching():
            if not was_watching:
                self._notice(f"watching {self.folder} again", "info")
            self._run_all()

    # -- files ------------------------------------------------------------------------------
    def _scan(self, root: Path) -> list[Path]:
        from .watch import is_live_file, is_watched_dir

        found: list[Path] = []
        for directory, dirnames, filenames in os.walk(root, onerror=None):
            dirnames[:] = sorted(d for d in dirnames if is_watched_dir(self.folder, os.path.join(directory, d)))
            found += [Path(directory, name) for name in sorted(filenames)
                      if is_live_file(self.folder, os.path.join(directory, name))]
        return found

    def _run_all(self) -> None:
        self._rerun_all.clear()
        present = self._scan(self.folder) if self.folder.is_dir() else []
        for key in sorted(set(self.files) - {str(p) for p in present}):
            self._remove(self.files[key].path)
        for path in present:
            self._run(path)

    def _process(self, path: Path) -> None:
        from .watch import is_live_file

        key = str(path)
        if path.is_dir() or (not path.exists() and any(k.startswith(key + os.sep) for k in self.files)):
            for known in sorted(k for k in self.files if k.startswith(key + os.sep)):
                if not Path(known).exists():
                    self._remove(Path(known))
            if path.is_dir():
                for found in self._scan(path):
                    if str(found) not in self.files:
                        self._run(found)
        elif path.is_file() and is_live_file(self.folder, path):
            self._run(path)
        elif key in self.files:
            self._remove(path)

    def _run(self, path: Path) -> None:
        key = str(path)
        live = self.files.get(key)
        if live is None:
            live = self.files[key] = LiveFile(path, module_name_for(self.folder, path))
        teardown_error = call_teardown(live.module)
        result = run_file(path, live.module_name, self.registry)
        live.runs += 1
        notes = list(result.notes)
        if teardown_error is not None:
            notes.insert(0, f"teardown() failed: {teardown_error.type}: {teardown_error.message}")
        if result.ok:
            live.module, live.outcome = result.module, "ok"
            what = ", ".join(f"{r.target} ({r.mode})" for r in result.replaced) or "nothing replaced"
            self._publish(path, "ok", f"reloaded in {result.duration_ms:.1f} ms: {what}",
                          duration_ms=result.duration_ms,
                          replaced=tuple({"target": r.target, "mode": r.mode, "note": r.note} for r in result.replaced),
                          notes=tuple(notes))
        else:
            assert result.error is not None
            live.outcome = "error"
            kept = "kept the last good version" if live.module is not None else "nothing replaced"
            self._publish(path, "error", f"{result.error.type}: {result.error.message} ({kept})",
                          duration_ms=result.duration_ms, notes=tuple(notes), error=result.error)

    def _remove(self, path: Path) -> None:
        live = self.files.pop(str(path), None)
        if live is None:
            return
        teardown_error = call_teardown(live.module)
        restored = self.registry.drop_owner(str(path))
        forget_module(live.module_name)
        notes = (f"teardown() failed: {teardown_error.type}: {teardown_error.message}",) if teardown_error else ()
        what = ", ".join(restored) or "nothing to restore"
        self._publish(path, "removed", f"removed: restored {what}", restored=tuple(restored), notes=notes)

    # -- events -----------------------------------------------------------------------------
    def _display(self, path: Path) -> str:
        try:
            return path.relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)

    def _publish(self, path: Path, outcome: str, message: str, **fields: Any) -> ReloadEvent:
        event = self.events.publish(file=self._display(path), path=str(path), outcome=outcome,
                                    message=message, **fields)
        (log.error if outcome == "error" else log.info)(event.log_line())
        return event

    def _notice(self, message: str, outcome: str) -> None:
        self._publish(self.folder, outcome, message)


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
    if target is None:
        return
    target.stop()
    for key in sorted(target.files):
        target._remove(target.files[key].path)
