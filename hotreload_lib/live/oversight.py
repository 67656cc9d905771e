"""Oversight of live code that runs long: a "still running after N s" notice at N, 2N, 4N ... s, and
an interrupt when the run is superseded (its file was saved again or deleted) or the reloader stops.

It runs on a thread of its own, because the worker is the thread busy with that very code. It asks
the disk, not file events, whether a run is superseded: the observer may be dead, and only the
worker would restart it.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..timings import Timings
from .runner import LiveCall, LiveCalls, file_stamp

Publish = Callable[..., object]  # Reporter.publish


class Overseer:
    def __init__(self, calls: LiveCalls, timings: Timings, stopping: threading.Event, publish: Publish) -> None:
        self.calls = calls
        self.timings = timings
        self.stopping = stopping
        self.publish = publish

    @contextlib.contextmanager
    def alongside(self) -> Iterator[None]:
        """Oversee on a thread of its own while the block (the worker's whole life) runs."""
        done = threading.Event()
        threading.Thread(target=self.run, args=(done,), name="hot-reload-overseer", daemon=True).start()
        try:
            yield
        finally:
            with self.calls.changed:
                done.set()
                self.calls.changed.notify_all()

    def run(self, done: threading.Event) -> None:
        """The thread's body, until `done` is set (the worker ends)."""
        calls = self.calls
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
        calls, timings = self.calls, self.timings
        notice_after = timings.running_notice_after
        next_attempt = 0.0
        stop_seen = False
        while True:
            with calls.changed:
                if calls.current is not call or done.is_set():
                    return
                elapsed = time.monotonic() - call.started
                stopping = self.stopping.is_set()
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
                self.publish(Path(call.path), "running", f"{subject} after {elapsed:.0f} s{asked}",
                             duration_ms=round(elapsed * 1000, 3))
                notice_after *= 2

    def _supersession(self, call: LiveCall, elapsed: float) -> str:
        """Why `call` should stop now, if it should: the reloader stops, or (once it runs long) its
        file on disk is no longer the version that runs. A save while a short run goes on just
        queues a rerun."""
        if self.stopping.is_set():
            return "the reloader is stopping"
        if elapsed < self.timings.running_notice_after:
            return ""
        on_disk = file_stamp(Path(call.path))
        if on_disk == call.stamp:
            return ""
        return "the file was saved again" if on_disk is not None else "the file was deleted"
