"""Coalesce file-system events into one reload per save.

Each path waits here with the time it becomes due. A "save finished" signal (inotify's
close-after-write, a rename onto the file, a delete) makes it due at once; a bare "modified"
makes it due after a short quiet period that every further "modified" extends. Whatever piles up
while a file runs is taken in one go afterwards, so a storm of saves costs a few runs, and the last
content always runs last.
"""
from __future__ import annotations

import threading
import time


class PendingPaths:
    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._changed = threading.Condition()
        self._woken = False

    def add(self, path: str, delay: float = 0.0) -> None:
        with self._changed:
            self._due[path] = time.monotonic() + delay
            self._changed.notify()

    def wake(self) -> None:
        """Make a waiting take_due() return now (to stop, or to re-run everything)."""
        with self._changed:
            self._woken = True
            self._changed.notify()

    def __len__(self) -> int:
        with self._changed:
            return len(self._due)

    def take_due(self, timeout: float) -> list[str]:
        """Wait up to `timeout` s for due paths; return them in arrival order and forget them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = time.monotonic()
                due = [path for path, when in self._due.items() if when <= now]
                if due or self._woken or now >= deadline:
                    self._woken = False
                    for path in due:
                        del self._due[path]
                    return due
                next_due = min(self._due.values(), default=deadline)
                self._changed.wait(min(next_due, deadline) - now)
