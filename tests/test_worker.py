"""The reloader's worker thread on its own: one thread however often it is started, an undo asked by
any stop done once as it winds down, a start while it winds down served by the same thread."""
from __future__ import annotations

import threading

from hotreload_lib.worker import Worker

WAIT = 10.0


class Recorder:
    """A worker's body that serves until stopped, and records each wind-down's undo."""

    def __init__(self) -> None:
        self.worker = Worker("test-worker", self.body)
        self.serving = threading.Event()
        self.hold_wind_down = threading.Event()
        self.hold_wind_down.set()
        self.winding_down = threading.Event()
        self.wind_downs: list[bool] = []
        self.threads: set[int] = set()

    def body(self) -> None:
        self.worker.cycles(self.serve, self.wind_down)

    def serve(self) -> None:
        self.threads.add(threading.get_ident())
        self.serving.set()
        self.worker.stopping.wait()
        self.serving.clear()

    def wind_down(self, undo: bool) -> None:
        self.winding_down.set()
        assert self.hold_wind_down.wait(WAIT)
        self.wind_downs.append(undo)
        self.winding_down.clear()


def test_an_undo_asked_by_any_stop_is_done_once() -> None:
    recorder = Recorder()
    worker = recorder.worker
    assert worker.start() and worker.start()
    assert recorder.serving.wait(WAIT)
    assert worker.running
    recorder.hold_wind_down.clear()
    thread = worker.stop(undo=True)
    assert thread is not None and worker.stop(undo=False) is thread
    recorder.hold_wind_down.set()
    thread.join(WAIT)
    assert recorder.wind_downs == [True] and not worker.running
    assert worker.stop(undo=True) is None, "with no thread, undoing is the caller's"


def test_a_start_while_it_winds_down_is_served_by_the_same_thread() -> None:
    recorder = Recorder()
    worker = recorder.worker
    worker.start()
    assert recorder.serving.wait(WAIT)
    recorder.hold_wind_down.clear()
    thread = worker.stop(undo=False)
    assert recorder.winding_down.wait(WAIT)
    assert worker.start()
    recorder.hold_wind_down.set()
    assert recorder.serving.wait(WAIT), "it serves again"
    assert len(recorder.threads) == 1 and thread is not None and thread.is_alive()
    worker.stop(undo=False)
    thread.join(WAIT)
    assert recorder.wind_downs == [False, False]


def test_given_up_it_never_starts_again() -> None:
    recorder = Recorder()
    worker = recorder.worker
    worker.start()
    assert recorder.serving.wait(WAIT)
    thread = worker.stop(undo=False)  # to have the thread to join
    worker.give_up("watchdog is not installed")
    assert thread is not None
    thread.join(WAIT)
    assert not worker.start() and worker.inactive == "watchdog is not installed"
    assert not worker.running and not recorder.serving.is_set()
