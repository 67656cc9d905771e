"""Coalesce file-system events into one reload per save.

Each path waits here with the time it becomes due. A "save finished" signal (inotify's
close-after-write, a rename onto the file, a delete) makes it due at once; a bare "modified"
makes it due after a short quiet period that every further "modified" extends. Whatever piles up
while a file runs is taken in one go afterwards, so a storm of saves costs a few runs, and the last
content always runs last.

Every path added is also a save heard: numbered, and counted as unhandled until the worker has
handled the path since (a path waiting for a generation to end is not handled yet). That is what an
`apply` call waits on (apply.py): every save heard up to a number has been handled once no path
left has a number up to it.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path


class PendingPaths:
    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._changed = threading.Condition()
        self._woken = False
        self._heard = 0
        self._unhandled: dict[str, int] = {}  # path -> the number of its newest save heard
        # Its own condition: waiters of apply calls must never take the wake-up meant for the worker.
        self.settled = threading.Condition()

    def add(self, path: str, delay: float = 0.0) -> None:
        with self.settled:
            self._heard += 1
            self._unhandled[str(Path(path))] = self._heard
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

    # -- saves heard and not handled yet ---------------------------------------------------------
    @property
    def heard(self) -> int:
        """The number of the newest save heard."""
        with self.settled:
            return self._heard

    def handling(self, path: Path) -> int:
        """The number of `path`'s newest save heard, read as the worker starts handling it: what it
        handles covers that save (the file is read after it)."""
        with self.settled:
            return self._unhandled.get(str(path), 0)

    def handled(self, path: Path, number: int) -> None:
        """The worker has handled `path`, which covered its save `number`. A save heard meanwhile
        stays unhandled (the path is due again), as does a path handled by asking to come back later."""
        with self.settled:
            if number and self._unhandled.get(str(path)) == number:
                del self._unhandled[str(path)]
                self.settled.notify_all()

    def unhandled(self, up_to: int | None = None) -> list[str]:
        """The paths with a save heard (up to number `up_to`) that is not handled yet, oldest first."""
        with self.settled:
            return [path for path, number in sorted(self._unhandled.items(), key=lambda item: item[1])
                    if up_to is None or number <= up_to]
