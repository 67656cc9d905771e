"""Quick thread switching while a save is being handled.

CPython lets a thread that runs Python code without pause (a generation on the CPU, a busy loop)
keep the GIL for `sys.getswitchinterval()` (5 ms) before another thread gets a turn. A save passes
from the observer's thread to the worker and on to the threads that call the patched code, each
hand-off waiting up to that long, and the run itself is cut into 5 ms slices: tens of ms in all.
From the moment a save is heard (on watchdog's emitter thread, as the event is queued: see
watch._tell_early) until it has been handled the interval is QUICK_INTERVAL; then the value found
before is put back at once. The effect is process-wide but bounded: a few ms per save
of more frequent switching; the interval is left alone when someone else changed it meanwhile.
"""
from __future__ import annotations

import sys
import threading

QUICK_INTERVAL = 0.0005


class QuickSwitching:
    def __init__(self, interval: float = QUICK_INTERVAL) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._saved: float | None = None

    def begin(self) -> None:
        with self._lock:
            if self._saved is None and sys.getswitchinterval() > self.interval:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(self.interval)

    def end(self) -> None:
        with self._lock:
            saved, self._saved = self._saved, None
            # Set back only while it is still ours: whoever changed it since meant their value.
            if saved is not None and sys.getswitchinterval() == self.interval:
                sys.setswitchinterval(saved)
