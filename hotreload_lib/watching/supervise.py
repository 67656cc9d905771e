"""Keep one folder watched: start the observer (watch.py chooses native or polling), check once per
health interval that it and the folder are still there, restart a dead observer with backoff
(1 s, 2 s, 4 s ... up to a minute), and say in the console and the page how the folder is watched.

What a vanished or returning folder means for its files is the watched root's business: the
supervisor only calls `on_vanished` (the folder is gone: undo what its files did) and `on_resumed`
(watching again after a gap: events may have been missed, resync).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..events import Reporter
from ..timings import Timings

log = logging.getLogger("hot_reload")
OBSERVER_JOIN_TIMEOUT = 2.0
# install.py installs it at the webui's next full start: not under --skip-install, nor SD.Next's
# quick start (--skip-git), so the manual command comes first.
WATCHDOG_FIX = ('install it into the webui\'s Python: python -m pip install "watchdog>=3,<8" (or restart the '
                'webui without --skip-install / --skip-git, so that install.py runs)')


class WatchdogMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class ObserverOptions:
    """What every folder of one reloader is watched with (see watch.start_observer)."""

    sink: Callable[[str, float], None]  # a path that changed, due in so many seconds
    on_seen: Callable[[], None] = lambda: None  # an event that counts, heard before `sink` gets it
    force_polling: str = ""  # why polling is forced, when it is
    native_observer: Callable[[], Any] | None = None  # the observer to try first


class WatchSupervisor:
    """The observer of one folder and its health. `mode` is what the status view shows: "starting",
    then "native"/"polling" once announced, "waiting" (no folder), "restarting", "stopped", "inactive"."""

    def __init__(self, folder: Path, options: ObserverOptions, reporter: Reporter, timings: Timings, *,
                 suffixes: tuple[str, ...] = (".py",), what: str = "the live folder",
                 when_gone: str = "its files' replacements are undone",
                 on_vanished: Callable[[], None] = lambda: None, on_resumed: Callable[[], None] = lambda: None) -> None:
        self.folder = folder
        self.options = options
        self.suffixes = suffixes  # of the files whose events count
        self.what = what  # how notices name the folder ...
        self.when_gone = when_gone  # ... and say what its disappearance means
        self.reporter = reporter
        self.timings = timings
        self.on_vanished = on_vanished
        self.on_resumed = on_resumed
        self.mode = "starting"
        self.mode_reason = ""
        self._watch: Any = None
        self._watch_since = 0.0
        self._backoff = timings.backoff_first
        self._retry_at = 0.0
        self._last_watch_error = ""

    @property
    def observer(self) -> Any:
        """The watchdog observer watching now, or None."""
        watch = self._watch
        return watch.observer if watch is not None else None

    @property
    def watching(self) -> bool:
        return self._watch is not None

    def check(self, *, first: bool = False) -> None:
        """Start, keep or restart the observer. Raises WatchdogMissing when watchdog cannot be imported.
        `first`: the reloader's start, which runs the files itself and announces afterwards."""
        if first:
            self._retry_at = 0.0
        now = time.monotonic()
        watch = self._watch
        if not self.folder.is_dir():
            if watch is not None or first or self.mode != "waiting":
                self.stop()
                self.mode, self.mode_reason = "waiting", f"{self.folder} does not exist"
                self.on_vanished()
                self.reporter.notice(f"{self.what} {self.folder} does not exist (deleted or renamed?): "
                                     f"{self.when_gone}; watching resumes when it is back", "info")
            return
        if watch is not None:
            if watch.is_alive():
                if now - self._watch_since >= self.timings.backoff_reset_after:
                    self._backoff = self.timings.backoff_first
                return
            self.stop()
            delay = self._next_backoff(now)
            self.mode, self.mode_reason = "restarting", f"the watcher stopped; restarting in {delay:g} s"
            self.reporter.notice(f"the file watcher stopped unexpectedly; restarting it in {delay:g} s", "info")
            return
        if now < self._retry_at:
            return
        try:
            self._start()
        except WatchdogMissing as error:
            self.mode, self.mode_reason = "inactive", str(error)
            raise
        except Exception as error:  # noqa: BLE001 - watchdog raises more than OSError; retried with backoff
            delay = self._next_backoff(now)
            self.mode, self.mode_reason = "restarting", f"cannot watch: {error}"
            if str(error) != self._last_watch_error:
                self._last_watch_error = str(error)
                self.reporter.notice(f"cannot watch {self.folder}: {error}; trying again in {delay:g} s "
                                     "(and later, less often)", "error")
            return
        self._last_watch_error = ""
        if not first:
            self.announce()
            self.reporter.notice(f"watching {self.folder} again ({self.mode})", "info")
            self.on_resumed()

    def announce(self) -> None:
        """Say how the folder is watched. At start only once the files present have run: who reads
        the line (or waits for the mode) can save and know the save is not mixed into that first pass."""
        watch = self._watch
        if watch is None:
            return
        self.mode, self.mode_reason = watch.mode, f"{watch.backend}: {watch.reason}"
        if watch.fallback:
            log.warning("[Hot Reload] watching %s by polling: %s", self.folder, watch.reason)
            self.reporter.notice(f"native file events are not available, polling every "
                                 f"{watch.observer.timeout:g} s: {watch.reason}", "info", log_it=False)
        else:
            log.info("[Hot Reload] watching %s (%s, %s)", self.folder, watch.mode, self.mode_reason)

    def pass_marker(self, timeout: float) -> str:
        """Send a marker file through the folder's watcher (watch.send_marker), from any thread:
        once it comes back, every save made in the folder before has reached the sink. "" when it
        came back within `timeout`, else why not (what waits on it then goes on without)."""
        watch = self._watch
        if watch is None:
            return f"{self.what} {self.folder} is not watched now ({self.mode}: {self.mode_reason})"
        from .watch import send_marker

        passed = send_marker(self.folder, watch.handler, timeout, round_trip=True)
        if passed is None:
            return f"could not write a marker file into {self.what} {self.folder}, so saves whose file events had " \
                   "not arrived yet were not waited for"
        if not passed:
            return f"the watcher of {self.what} {self.folder} did not report a marker file within {timeout:g} s"
        return ""

    def stop(self) -> None:
        watch, self._watch = self._watch, None
        if watch is None:
            return
        try:
            watch.observer.stop()
            # Joined so that a stop is complete: a reloader started right after (Reload UI,
            # re-enabling) never overlaps a second observer with this one.
            if watch.observer is not threading.current_thread():
                watch.observer.join(OBSERVER_JOIN_TIMEOUT)
        except Exception:
            log.debug("observer stop failed", exc_info=True)

    def _start(self) -> None:
        try:
            from .watch import start_observer
        except ImportError as error:
            raise WatchdogMissing(f"the Python package watchdog is missing ({error}): {WATCHDOG_FIX}") from error
        options = self.options
        native = {"native": options.native_observer} if options.native_observer is not None else {}
        self._watch = start_observer(self.folder, options.sink, force_polling=options.force_polling,
                                     suffixes=self.suffixes, on_seen=options.on_seen, **native)
        self._watch_since = time.monotonic()

    def _next_backoff(self, now: float) -> float:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self.timings.backoff_max)
        self._retry_at = now + delay
        return delay
