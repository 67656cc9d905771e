"""The reloader: one worker thread in a small loop over the parts that do the work.

    observer (supervise.py, watch.py) -> PendingPaths (coalesce.py) -> the gate (gate.py: not
    while a generation runs) -> the root a path lies in handles it (livefolder.py: run the file in
    a transaction; trackedtree.py: update the modules loaded from it) -> events

Every file operation happens on the worker thread (worker.py), so live code never runs
concurrently with other live code. Nothing raised while handling one path ends the loop: it is
reported and the worker goes on. Once per health interval (also while busy) the supervisor checks
the observer and the folder; an overseer thread reports and interrupts live code that runs long
(oversight.py); exceptions that end threads started by live files are reported as that file's
events (threadfaults.py).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .events import EventLog, ReloadEvent, Reporter
from .gate import RunGate
from .hooks import HostHooks
from .live.livefolder import LiveFolder
from .live.oversight import Overseer
from .live.runner import LiveCalls, RunInterrupted, error_info
from .live.threadfaults import report_thread_exceptions
from .patch.registry import PatchRegistry, get_registry
from .timings import Timings
from .update.trackedtree import Tracking
from .watching.coalesce import PendingPaths
from .watching.roots import WatchedRoot, owner_of
from .watching.supervise import ObserverOptions, WatchdogMissing, WatchSupervisor
from .watching.switching import QuickSwitching
from .worker import Worker

__all__ = ["Reloader", "Timings", "ensure_started", "get_events", "get_reloader", "shutdown"]
log = logging.getLogger("hot_reload")


class Reloader:
    def __init__(self, folder: Path, events: EventLog, registry: PatchRegistry, *,
                 force_polling: str = "", native_observer: Callable[[], Any] | None = None,
                 timings: Timings | None = None, host: HostHooks | None = None,
                 tracked: list[Path] | None = None) -> None:
        self.folder = folder
        self.events = events
        self.registry = registry
        self.force_polling = force_polling
        self.timings = timings or Timings()
        self._pending = PendingPaths()
        self._calls = LiveCalls()
        self._rerun_all = threading.Event()
        self._first_pass_done = threading.Event()
        self._switching = QuickSwitching()
        self.worker = Worker("hot-reload-worker", self._work)
        self._stopping = self.worker.stopping
        self.reporter = Reporter(events, folder)
        # The newest event an `apply` call answered with (apply.py): the next call reports from there.
        self.answered_up_to = events.last_seq
        self.host = host = host or HostHooks()
        self.gate = RunGate(host.busy, self._announce_wait)
        registry.call_failures.listen(self.live_call_failed)
        observing = ObserverOptions(self._saved, on_seen=self._heard, force_polling=force_polling,
                                    native_observer=native_observer)
        self.tracking = Tracking(events, host, self.timings, observing)
        self.tracking.want(tracked or [])
        self.live = LiveFolder(folder, registry, self._calls, self.reporter, host, requeue=self._pending.add,
                               stopping=self._stopping.is_set, excluded=self.tracking.folders)
        self.watch = WatchSupervisor(folder, observing, self.reporter, self.timings,
                                     on_vanished=lambda: self.live.release(stopping=False),
                                     on_resumed=lambda: self.live.sync(again=False))

    # -- control, from any thread ------------------------------------------------------------
    def start(self) -> None:
        """Idempotent: one worker thread at most, however often it is called. A worker that is
        still winding down after stop() serves again instead of ending."""
        if self.worker.start():
            report_thread_exceptions(self)

    def stop(self, timeout: float = 5.0, *, undo: bool = False) -> None:
        """Stop watching; with `undo`, also undo every live file's replacements (their teardown()
        runs). Live code still running is interrupted. Returns after `timeout` at most: code blocked
        in a call Python cannot interrupt finishes later, and the worker then completes the stop."""
        thread = self.worker.stop(undo=undo)
        self._pending.wake()
        with self._calls.changed:
            self._calls.changed.notify_all()  # the overseer interrupts at once
        if thread is None:
            if undo:
                self._release_all()
        elif thread is not threading.current_thread():
            thread.join(timeout)

    def wait_until_watching(self, timeout: float) -> bool:
        """Wait (up to `timeout` s) until the files present have run and watching is announced, or
        the reloader found it cannot work."""
        return self._first_pass_done.wait(timeout)

    @property
    def running(self) -> bool:
        return self.worker.running

    @property
    def mode(self) -> str:
        return self.watch.mode

    @property
    def mode_reason(self) -> str:
        return self.watch.mode_reason

    @property
    def observer(self) -> Any:
        """The watchdog observer watching now, or None."""
        return self.watch.observer

    def rerun_all(self) -> None:
        """Run every live file again (after the host re-created the objects they patched)."""
        self._rerun_all.set()
        self._pending.wake()

    def track(self, folders: list[Path]) -> None:
        """Track these source trees from now on (and no others)."""
        self.tracking.want(folders)
        self._pending.wake()

    def reload_ui(self) -> None:
        """Rebuild the webui's page (the host's Reload UI) as soon as no generation runs."""
        self.gate.ask_reload_ui()
        self._pending.wake()

    def before_reload_ui(self) -> list[str]:
        """The host's Reload UI is about to execute the extensions' scripts again (called on its
        thread): the tracked extensions' modules leave sys.modules, so that the scripts import them
        afresh. Returns their names."""
        return self.tracking.drop_modules()

    def apply_now(self) -> None:
        """Run what waits for the end of a generation now."""
        self.gate.apply_now()
        self._pending.wake()

    # -- saves heard and handled, for `apply` (apply.py), from any thread ------------------------
    def pass_markers(self, timeout: float) -> list[str]:
        """Send a marker file through the watcher of each watched folder at once (supervise.py):
        when this returns, every save made in them before it was called has been heard. Why a
        folder could not be waited for, one line each."""
        supervisors = [self.watch, *self.tracking.supervisors()]
        notes: list[str] = [""] * len(supervisors)

        def send(index: int) -> None:
            notes[index] = supervisors[index].pass_marker(timeout)

        threads = [threading.Thread(target=send, args=(index,), name="hot-reload-marker", daemon=True)
                   for index in range(len(supervisors))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [note for note in notes if note]

    @property
    def saves_heard(self) -> int:
        """The number of the newest save heard (coalesce.py numbers them)."""
        return self._pending.heard

    def unhandled(self, up_to: int | None = None) -> list[Path]:
        """The paths with a save heard (up to number `up_to`) that was not handled yet."""
        return list(map(Path, self._pending.unhandled(up_to)))

    def wait_handled(self, up_to: int, timeout: float) -> list[Path]:
        """Wait up to `timeout` s until every save heard up to number `up_to` has been handled; what
        is left."""
        with self._pending.settled:
            self._pending.settled.wait_for(lambda: not self._pending.unhandled(up_to), timeout)
        return self.unhandled(up_to)

    def display(self, path: Path) -> str:
        """`path` as the events name it."""
        return self._reporter_of(path).display(path)

    def failing(self) -> list[ReloadEvent]:
        """The error of each live or tracked file that fails now (its last save ran or applied badly)."""
        return [*self.live.failures(), *self.tracking.failures()]

    def status(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "running": self.running,
            "mode": self.mode,
            "mode_reason": self.mode_reason,
            "files": self.live.outcomes(),
            "failing": [event.to_dict() for event in self.failing()],
            "pending": len(self._pending),
            "waiting": [self._reporter_of(path).display(path) for path in list(self.gate.waiting)],
            "tracked": self.tracking.status(),
        }

    def live_call_failed(self, owner: str, target: str, error: BaseException) -> None:
        if self.running:
            self.live.call_failed(owner, target, error)

    def report_thread_failure(self, args: Any) -> None:
        if self.running:
            self.live.thread_failed(args)

    # -- the worker ------------------------------------------------------------------------
    def _work(self) -> None:
        with Overseer(self._calls, self.timings, self._stopping, self.reporter.publish).alongside():
            self.worker.cycles(self._serve, self._wind_down)

    def _serve(self) -> None:
        """Watch and run until stopping: take due paths, hand each to the root it lies in."""
        try:
            self._guarded(self.watch.check, first=True)
            self._guarded(self.tracking.apply)
            self._guarded(self._sync_all)
            self.watch.announce()
            self._first_pass_done.set()
            next_health = time.monotonic() + self.timings.health_interval
            while not self._stopping.is_set():
                paths = self._pending.take_due(self.timings.busy_poll if self.gate.holding
                                               else self.timings.health_interval)
                if self._stopping.is_set():
                    break
                if self.tracking.asked:
                    self._guarded(self._retrack)
                if self._rerun_all.is_set() and not self.gate.reason():
                    self._guarded(self._sync_all)
                for path in self.gate.admit(list(map(Path, paths))):
                    if self._stopping.is_set():
                        break  # what is left is found by the scan of the next start
                    number = self._pending.handling(path)
                    root = owner_of(self.roots(), path)
                    if root is not None:
                        self._guarded(root.handle, path)
                    self._pending.handled(path, number)
                if paths:
                    self._guarded(self.tracking.remember_new_modules)
                if self.gate.reload_ui_due():
                    self._guarded(self._ask_host_to_reload_ui)
                if not len(self._pending):
                    self._switching.end()
                # Also while busy: a storm of saves must not keep a dead observer unnoticed.
                if time.monotonic() >= next_health:
                    self._guarded(self.watch.check)
                    self._guarded(self.tracking.check)
                    self._guarded(self.tracking.remember_new_modules)
                    next_health = time.monotonic() + self.timings.health_interval
        except WatchdogMissing as error:
            self.worker.give_up(str(error))
            self.reporter.notice(f"hot reload is inactive: {error}", "error")
        finally:
            self._first_pass_done.set()

    def _saved(self, path: str, delay: float) -> None:
        """A file event (on the observer's thread): due after `delay`."""
        self._heard()
        self._pending.add(path, delay)

    def _heard(self) -> None:
        """A save is on its way (on an emitter's or the observer's thread): switch threads quickly
        until it is handled; never once the worker winds down, which would not switch back."""
        if not self._stopping.is_set():
            self._switching.begin()

    def _announce_wait(self, path: Path, reason: str) -> None:
        self._reporter_of(path).publish(path, "deferred", f"{reason}: it runs when that has finished")

    def _reporter_of(self, path: Path) -> Reporter:
        root = owner_of(self.roots(), path)
        return root.reporter if root is not None else self.reporter

    def roots(self) -> list[WatchedRoot]:
        """Every watched root, in the order that decides who owns a path: a tracked tree's files are
        never live files, even when it lies inside the live folder."""
        return [*self.tracking.roots(), self.live]

    def _retrack(self) -> None:
        if self.tracking.apply():
            self.live.sync(again=False)  # live files now inside a tracked tree stop being live files

    def _ask_host_to_reload_ui(self) -> None:
        why_not = self.host.reload_ui()
        if why_not:
            self.reporter.notice(f"Reload UI: {why_not}", "error", needs="restart")
        else:
            self.reporter.notice("Reload UI: the page is being rebuilt", "info")

    def _sync_all(self) -> None:
        self._rerun_all.clear()
        for root in [self.live, *self.tracking.roots()]:  # what live files import is tracked from the start
            if self._stopping.is_set():
                return
            root.sync(again=True)

    def _guarded(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            action(*args, **kwargs)
        except WatchdogMissing:
            raise
        except (Exception, RunInterrupted) as error:  # a bug here must not end the reloader
            log.exception("[Hot Reload] internal error in %s", getattr(action, "__name__", action))
            where = Path(args[0]) if args and isinstance(args[0], Path) else self.folder
            self.reporter.publish(where, "error", f"internal error of the reloader (it goes on): {error!r}",
                                  error=error_info(error, str(where)))

    def _wind_down(self, undo: bool) -> None:
        self.watch.stop()
        self.tracking.stop()
        self._switching.end()  # after the observers: an event they were delivering may have begun it
        if not self.worker.inactive:
            self.watch.mode = "stopped"
        if undo:
            self._release_all()

    def _release_all(self) -> None:
        for root in self.roots():
            root.release(stopping=True)


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


def ensure_started(folder: Path, *, force_polling: str = "", host: HostHooks | None = None,
                   tracked: list[Path] | None = None) -> Reloader:
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
        _reloader = Reloader(folder, events, get_registry(), force_polling=force_polling, host=host, tracked=tracked)
        reloader = _reloader
    if current is not None:
        shutdown(current)
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
