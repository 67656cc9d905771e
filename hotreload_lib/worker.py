"""The reloader's one worker thread: it serves until asked to stop, then winds down. A start()
while it winds down makes the same thread serve again (never a second one); a stop that asks to
undo makes the wind-down undo, whichever stop asked it. The work itself is the reloader's."""
from __future__ import annotations

import threading
from collections.abc import Callable


class Worker:
    def __init__(self, name: str, body: Callable[[], None]) -> None:
        self.name = name
        self.body = body  # the thread's target: it calls cycles()
        self.stopping = threading.Event()
        self.inactive = ""  # why it cannot work at all (watchdog missing): start() then does nothing
        self._undo = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self.stopping.is_set()

    def start(self) -> bool:
        """Idempotent: one thread at most, however often it is called. False when inactive."""
        with self._lock:
            if self.inactive:
                return False
            self.stopping.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self.body, name=self.name, daemon=True)
                self._thread.start()
            return True

    def stop(self, *, undo: bool) -> threading.Thread | None:
        """Ask the thread to stop (and, with `undo`, to undo as it winds down). Returns the thread
        that will, or None when none runs: then undoing is the caller's."""
        with self._lock:
            self.stopping.set()
            self._undo = self._undo or undo
            return self._thread if self._thread is not None and self._thread.is_alive() else None

    def give_up(self, why: str) -> None:
        """Stop for good: the work cannot be done in this process."""
        with self._lock:
            self.inactive = why
            self.stopping.set()

    def cycles(self, serve: Callable[[], None], wind_down: Callable[[bool], None]) -> None:
        """On the thread: serve, wind down (undoing if asked), and again while a start() came meanwhile."""
        while True:
            if not self.stopping.is_set():
                serve()
            with self._lock:
                undo, self._undo = self._undo, False
            wind_down(undo)
            with self._lock:
                # Decided under the lock start() takes: either start() sees no thread and makes one,
                # or this thread sees the stop withdrawn and serves again.
                if self.stopping.is_set() and not self._undo:
                    self._thread = None
                    return
