"""Shared fixtures: real temporary folders, a real watchdog observer, a reloader per test, and the
page served by a real gradio server on 127.0.0.1."""
from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hotreload_lib.demo import DemoPage, free_port
from hotreload_lib.events import EventLog, ReloadEvent
from hotreload_lib.page.server import Feed
from hotreload_lib.patch.registry import PatchRegistry
from hotreload_lib.reloader import Reloader
from tests.standin.host import STANDIN_ROOT, StandinWebui, install_extension

OTHER_EXTENSION_SCRIPT = "def greet():\n    return 'original'\n"


@contextmanager
def served(app: Any) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 serving `app` (a FastAPI app): yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(30)


class EventWatcher:
    """Reads a reloader's events in order, waiting for the next ones."""

    def __init__(self, events: EventLog) -> None:
        self.events = events
        self.seen = 0

    def next(self, predicate: Callable[[ReloadEvent], bool] = lambda e: True, timeout: float = 10.0) -> ReloadEvent:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            for event in self.events.wait_after(self.seen, max(0.0, min(remaining, 0.5))):
                self.seen = event.seq
                if predicate(event):
                    return event
            if remaining <= 0:
                raise AssertionError(f"no matching event within {timeout} s; last: {self.events.recent(5)}")

    def file(self, name: str, outcome: str | None = None, timeout: float = 10.0) -> ReloadEvent:
        return self.next(lambda e: e.file == name and (outcome is None or e.outcome == outcome), timeout)

    def quiet(self, seconds: float) -> list[ReloadEvent]:
        """The events that arrive within `seconds` (expected: none)."""
        time.sleep(seconds)
        fresh = self.events.since(self.seen)
        if fresh:
            self.seen = fresh[-1].seq
        return fresh


@pytest.fixture(autouse=True)
def switch_interval_comes_back() -> Iterator[None]:
    """The reloader's quick thread switching is process-wide: no test may leave it behind (a
    reloader that stops while an event begins it would, and every later test would run with it)."""
    before = sys.getswitchinterval()
    yield
    deadline = time.monotonic() + 5
    while sys.getswitchinterval() != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sys.getswitchinterval() == before, f"the switch interval was left at {sys.getswitchinterval()}"


@pytest.fixture
def live_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "live"
    folder.mkdir()
    return folder


@pytest.fixture
def registry() -> Iterator[PatchRegistry]:
    registry = PatchRegistry()
    yield registry
    registry.restore_all()


@pytest.fixture
def make_reloader(live_dir: Path, registry: PatchRegistry) -> Iterator[Callable[..., tuple[Reloader, EventWatcher]]]:
    """Start a reloader on live_dir with its own registry and event log (not the process singletons)."""
    started: list[Reloader] = []

    def make(force_polling: str = "", folder: Path | None = None, **options: Any) -> tuple[Reloader, EventWatcher]:
        events = EventLog()
        reloader = Reloader(folder or live_dir, events, registry, force_polling=force_polling, **options)
        reloader.start()
        started.append(reloader)
        watcher = EventWatcher(events)
        deadline = time.monotonic() + 10
        while reloader.mode == "starting" and time.monotonic() < deadline:
            time.sleep(0.005)
        return reloader, watcher

    yield make
    for reloader in started:
        reloader.stop()
        assert not reloader.running


def write(path: Path, text: str) -> None:
    """Save like an editor that writes in place: one open, write, close."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def serve_page() -> Iterator[Callable[..., DemoPage]]:
    """Serve the demo page (a gradio app built like the webui's, our routes on it) for a feed, on
    127.0.0.1; every page is closed afterwards."""
    pages: list[DemoPage] = []

    def serve(feed: Feed, **options: Any) -> DemoPage:
        page = DemoPage(feed, **options)
        pages.append(page)
        page.launch()
        return page

    yield serve
    for page in pages:
        page.close()


def feed_of(reloader: Reloader) -> Feed:
    return Feed(reloader.events, reloader.registry, lambda: reloader)


# -- the stand-in webui (tests/standin/host.py, after ../shared/HOST_CONTRACT.md) ---------------------
def _isolated(name: str) -> bool:
    return name.split(".")[0] in {"modules", "hotreload_lib", "hotreload_live", "launch"}


@pytest.fixture
def webui(tmp_path: Path) -> Iterator[StandinWebui]:
    """A fresh webui root with our extension copied under another folder name, and a clean
    sys.modules for the webui's and our packages (restored afterwards)."""
    root = tmp_path / "webui"
    shutil.copytree(STANDIN_ROOT, root)
    ours = install_extension(root)
    other = root / "extensions" / "other"
    write(other / "scripts" / "other_ext.py", OTHER_EXTENSION_SCRIPT)
    saved = {name: module for name, module in sys.modules.items() if _isolated(name)}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    host = StandinWebui(root, [ours, other])
    host.ours = ours  # type: ignore[attr-defined]
    try:
        yield host
    finally:
        reloader_module = sys.modules.get("hotreload_lib.reloader")
        if reloader_module is not None:
            reloader_module.shutdown()
        for name in [name for name in sys.modules if _isolated(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.path.remove(str(root))
        # The console setup of one webui must not outlive it (its handler holds that test's stderr).
        ours = logging.getLogger("hot_reload")
        ours.handlers.clear()
        ours.propagate = True
        ours.setLevel(logging.NOTSET)


def webui_events() -> EventWatcher:
    """The events of the reloader the stand-in webui started."""
    return EventWatcher(sys.modules["hotreload_lib.reloader"].get_events())
