"""Events stay small and console lines stay harmless, whatever a live file raises or is called:
a real reloader on a real folder, its console lines read from the logging records."""
from __future__ import annotations

import gc
import json
import logging
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hotreload_lib.events import CONSOLE_LINE_LIMIT, FIELD_LIMIT, ITEMS_LIMIT, EventLog, ReloadEvent
from tests.conftest import write

HUGE = "raise ValueError('x' * 20_000_000)  # save {number}\n"
EVENT_BYTES = 64_000  # an event of any size below this is "small"; uncapped, this one weighed 60 MB


@pytest.fixture
def console(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    with caplog.at_level(logging.INFO, logger="hot_reload"):
        yield lambda: [record.getMessage() for record in caplog.records if record.name == "hot_reload"]


def test_a_huge_error_message_is_capped_in_the_event_and_in_the_console(
        live_dir: Path, make_reloader: Callable[..., Any], console: Callable[[], list[str]]) -> None:
    _reloader, watcher = make_reloader()
    write(live_dir / "huge.py", HUGE.format(number=1))
    event = watcher.file("huge.py", "error")
    assert len(event.json_bytes) < EVENT_BYTES
    assert event.error is not None
    assert event.error.message == "x" * FIELD_LIMIT + "… (truncated, 20,000,000 bytes)"
    assert event.message.startswith("ValueError: xxx") and "(truncated, 20,000,0" in event.message
    # The traceback keeps its start (where in the live file) and its end.
    assert event.error.traceback.startswith("Traceback") and 'huge.py", line 1' in event.error.traceback
    assert event.error.traceback.endswith("x" * 100 + "\n")
    [line] = [line for line in console() if "huge.py" in line]
    assert CONSOLE_LINE_LIMIT < len(line) < CONSOLE_LINE_LIMIT + 200, "the console keeps more than the event"
    assert "(truncated, 20,000,0" in line


def test_a_huge_error_message_does_not_add_to_memory_with_every_save(
        live_dir: Path, make_reloader: Callable[..., Any]) -> None:
    """Four copies of the message were kept per save, in the event and in a failed run's frames
    (a reference cycle); here the cycle collector is kept out of it, so what is freed is freed by
    reference counting, as soon as the run is over. Measured by tracemalloc, not RSS: the C
    allocator may keep freed 20 MB blocks once (glibc raises its mmap threshold), a step that is
    not ours and looked like a leak."""
    _reloader, watcher = make_reloader()
    held: list[int] = []
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        for number in range(6):
            write(live_dir / "huge.py", HUGE.format(number=number))
            watcher.file("huge.py", "error", timeout=30)
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
        gc.enable()
    grown_mb = (held[-1] - held[0]) / 2**20
    assert grown_mb < 15, f"Python memory grew by {grown_mb:.0f} MB over five more saves ({[h >> 20 for h in held]} MB)"


def test_control_characters_in_a_name_and_a_message_are_escaped_in_the_console(
        live_dir: Path, make_reloader: Callable[..., Any], console: Callable[[], list[str]]) -> None:
    _reloader, watcher = make_reloader()
    name = "clear\x1b[2Jscreen.py"
    write(live_dir / name, "raise ValueError('title\\x1b]0;pwned\\x07 next\\nline \\u202egnp.exe')\n")
    event = watcher.file(name, "error")
    assert event.error is not None and "\x1b]0;pwned\x07" in event.error.message  # the page shows text as text
    lines = [line for line in console() if "screen.py" in line]
    assert lines, console()
    assert not any(char in line for line in lines for char in "\x1b\x07\n\u202e")
    assert "clear\\x1b[2Jscreen.py: ValueError: title\\x1b]0;pwned\\x07 next\\nline \\u202egnp.exe" in lines[0]


def test_every_field_and_list_of_an_event_is_capped() -> None:
    events = EventLog()
    long = "n" * (FIELD_LIMIT * 3)
    event = events.publish(
        file=long, path=long, outcome="ok", message=long, notes=tuple(long for _ in range(ITEMS_LIMIT + 10)),
        replaced=tuple({"target": f"t{i}", "mode": "in-place", "note": long} for i in range(ITEMS_LIMIT + 20)),
        restored=tuple(long for _ in range(ITEMS_LIMIT + 5)),
    )
    assert len(event.file) == len(event.path) == len(event.message) == FIELD_LIMIT + len("… (truncated, 12,288 bytes)")
    assert len(event.replaced) == len(event.restored) == ITEMS_LIMIT
    assert all(len(item["note"]) < FIELD_LIMIT + 40 for item in event.replaced)
    assert event.notes[-3:] == ("… and 10 more notes", "… and 20 more replacements (the Hot Reload tab lists them all)",
                                "… and 5 more restored")
    assert json.loads(event.to_json())["seq"] == event.seq
    assert events.recent(1) == [event]


def test_the_json_of_an_event_is_made_once_and_carries_any_file_name() -> None:
    event = EventLog().publish(file="caf\udce9.py", path="/live/caf\udce9.py", outcome="ok", message="reloaded")
    assert event.json_bytes is event.json_bytes
    assert json.loads(event.json_bytes)["file"] == "caf\udce9.py"  # a name that is not UTF-8 on disk
    assert isinstance(ReloadEvent(seq=1, time=0.0, file="", path="", outcome="info", message="").to_json(), str)


def test_the_newest_event_of_each_file_is_known_after_the_history_dropped_it() -> None:
    """What a page catching up compares its toasts with: only a newer event of a file settles them."""
    events = EventLog(size=3)
    first = events.publish(file="a.py", path="/live/a.py", outcome="error", message="boom")
    events.publish(file="b.py", path="/live/b.py", outcome="ok", message="")
    for _ in range(5):
        events.publish(file="c.py", path="/live/c.py", outcome="ok", message="")
    assert first not in events.since(0)
    newest = events.newest_of_files()
    assert newest["a.py"] == first.seq and newest["c.py"] == events.last_seq
    assert list(newest) == ["a.py", "b.py", "c.py"]


def test_the_newest_events_are_remembered_for_the_files_named_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """A storm of new names (a generated folder) cannot make the map grow without bound."""
    monkeypatch.setattr("hotreload_lib.events.NEWEST_LIMIT", 3)
    events = EventLog()
    for name in ["a.py", "b.py", "c.py", "a.py", "d.py"]:
        events.publish(file=name, path=f"/live/{name}", outcome="ok", message="")
    assert list(events.newest_of_files()) == ["c.py", "a.py", "d.py"]
