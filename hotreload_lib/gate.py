"""The gate in front of every run: while the host is busy (a generation runs), a changed path does
not run. It waits, announced once as `deferred`, and when the host is idle again (or the user asks
"Apply now") the latest content of each waiting path runs once, in the order of their last saves:
as if each save had been made just then. Several saves during one generation make one run. A
Reload UI asked for during a generation waits the same way (rebuilding the page would end it).

While nothing waits the gate costs one call of `busy()` per batch of due paths; while something
waits the worker looks again every `poll` seconds, so a run follows the generation's end closely.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("hot_reload")


class RunGate:
    def __init__(self, busy: Callable[[], str], announce: Callable[[Path, str], None]) -> None:
        self.busy = busy
        self.announce = announce  # publish the `deferred` event of a path that starts waiting
        self.waiting: dict[Path, None] = {}  # insertion order = order of the last saves
        self._apply_now = threading.Event()
        self._reload_ui = threading.Event()
        self._busy_failed = False

    def apply_now(self) -> None:
        """Let what waits run at the next look, busy or not (the toast's "Apply now")."""
        self._apply_now.set()

    def ask_reload_ui(self) -> None:
        self._reload_ui.set()

    def reload_ui_due(self) -> bool:
        """Whether the Reload UI asked for is to be done now (once: then it is no longer asked)."""
        if not self._reload_ui.is_set() or self.reason():
            return False
        self._reload_ui.clear()
        return True

    @property
    def holding(self) -> bool:
        """Something waits for the generation to end: the worker should look again soon."""
        return bool(self.waiting) or self._reload_ui.is_set()

    def admit(self, paths: list[Path]) -> list[Path]:
        """Of `paths` (just due) and those waiting, the ones to run now, in order; the rest wait."""
        if not paths and not self.waiting:
            return []
        reason = "" if self._apply_now.is_set() else self.reason()
        for path in paths:
            first = path not in self.waiting
            self.waiting.pop(path, None)
            self.waiting[path] = None
            if reason and first:
                self.announce(path, reason)
        if reason:
            return []
        self._apply_now.clear()
        ready, self.waiting = list(self.waiting), {}
        return ready

    def reason(self) -> str:
        """Why runs must wait now, or ""."""
        try:
            return self.busy()
        except Exception:  # a host that cannot tell must not stop every run
            if not self._busy_failed:
                self._busy_failed = True
                log.exception("[Hot Reload] could not tell whether a generation is running; not waiting")
            return ""
