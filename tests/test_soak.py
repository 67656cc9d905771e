"""The soak test: minutes of random saves, deletes, renames, failures and faults across several live
files, while a thread keeps calling the patched functions; then the nothing-lost invariant.

Not in the default run (marker `soak`). Run it with:

    SOAK_MINUTES=10 .venv/bin/python -m pytest -m soak -s

SOAK_SEED repeats a run; SOAK_REPORT=path.json also writes the figures printed at the end.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from hotreload_lib.events import EventLog, ReloadEvent
from hotreload_lib.patch.registry import PatchRegistry
from hotreload_lib.reloader import Reloader, Timings
from tests.live_targets import assert_nothing_lost, load_target, snapshot

pytestmark = [pytest.mark.soak, pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")]
TARGET = load_target()
ORIGINAL = snapshot(TARGET)
GREET = TARGET.greet  # an alias that must follow every change
KEYS = range(6)
# What each file replaces: greet twice (two files stack on it), a function, a method, a
# staticmethod and a constant (an attribute slot).
REPLACES = {
    0: ("target", "greet", "def new(name):\n    return {tag!r} + ' ' + name\n"),
    1: ("target", "shout", "def new(text):\n    return {tag!r}\n"),
    2: ("target.Box", "size", "def new(self):\n    return {tag!r}\n"),
    3: ("target.Box", "kind", "def new():\n    return {tag!r}\n"),
    4: ("target", "LIMIT", "new = {tag!r}\n"),
    5: ("target", "greet", "def new(name):\n    return {tag!r} + ' ' + name\n"),
}
TAG = re.compile(r"^f\d+v\d+$")
FAILURES = {
    "syntax": "x = (\n",
    "raises": "raise RuntimeError('soak: fails after replacing')\n",
    "exit": "import sys\nsys.exit(1)\n",
    "missing-import": "import no_such_module_in_the_soak\n",
    "missing-target": "replace(target, 'no_such_name', new)\n",
}


def source(key: int, version: int, tail: str = "") -> str:
    owner, name, body = REPLACES[key]
    return (f"import {TARGET.__name__} as target\nfrom hotreload_lib import replace\n"
            + body.format(tag=f"f{key}v{version}") + f"replace({owner}, {name!r}, new)\n" + tail)


class Caller(threading.Thread):
    """Calls every patched target in a loop and checks each answer is an original or a live file's."""

    def __init__(self) -> None:
        super().__init__(name="soak-caller", daemon=True)
        self.calls = 0
        self.problems: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        checks: list[tuple[str, Callable[[], object], Callable[[object], bool]]] = [
            ("greet", lambda: GREET("x"), lambda r: r == "hello x" or _tagged(r, " x")),
            ("shout", lambda: TARGET.shout("x"), lambda r: r == "X" or _tagged(r)),
            ("size", lambda: TARGET.Box().size(), lambda r: r == 1 or _tagged(r)),
            ("kind", lambda: TARGET.Box.kind(), lambda r: r == "box" or _tagged(r)),
            ("LIMIT", lambda: TARGET.LIMIT, lambda r: r == 10 or _tagged(r)),
        ]
        while not self.halt.is_set():
            for name, call, valid in checks:
                try:
                    result = call()
                except Exception as error:  # noqa: BLE001 - every failure of a patched call is a finding
                    result = error
                if not valid(result) and len(self.problems) < 20:
                    self.problems.append(f"{name} -> {result!r}")
                self.calls += 1
            time.sleep(0.0005)


def _tagged(result: object, suffix: str = "") -> bool:
    return isinstance(result, str) and result.endswith(suffix) and bool(TAG.match(result[: len(result) - len(suffix)]))


class Files:
    """The live files of the soak: each key is at one of a few names, or deleted."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where: dict[int, Path | None] = dict.fromkeys(KEYS)
        self.version = 0

    def names(self, key: int) -> list[Path]:
        return [self.folder / f"f{key}.py", self.folder / f"f{key}_moved.py", self.folder / "sub" / f"f{key}.py"]

    def save(self, key: int, text: str | bytes) -> None:
        path = self.where[key] or self.names(key)[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode() if isinstance(text, str) else text
        with open(path, "wb") as file:
            file.write(data)
        self.where[key] = path

    def next_version(self) -> int:
        self.version += 1
        return self.version


def test_soak(tmp_path: Path) -> None:
    minutes = float(os.environ.get("SOAK_MINUTES", "10"))
    seed = int(os.environ.get("SOAK_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    folder = tmp_path / "live"
    folder.mkdir()
    registry = PatchRegistry()
    events = EventLog()
    outcomes: Counter[str] = Counter()
    error_types: Counter[str] = Counter()
    internal: list[ReloadEvent] = []

    def count(event: ReloadEvent) -> None:
        outcomes[event.outcome] += 1
        if event.error is not None:
            error_types[event.error.type] += 1
        if "internal error" in event.message:
            internal.append(event)

    events.subscribe(count)
    reloader = Reloader(folder, events, registry, timings=Timings(running_notice_after=1.0, health_interval=0.5))
    files = Files(folder)
    caller = Caller()
    process = psutil.Process()
    threads_before = threading.active_count()
    reloader.start()
    caller.start()
    actions: Counter[str] = Counter()
    most_pending = 0
    rss_start = process.memory_info().rss
    rss_warm = 0
    started = time.monotonic()
    deadline = started + minutes * 60
    try:
        while time.monotonic() < deadline:
            if not rss_warm and time.monotonic() - started > min(60.0, minutes * 6):
                rss_warm = process.memory_info().rss  # after a minute: caches and imports settled
            key = rng.choice(list(KEYS))
            action = rng.choices(
                ["good", "bad", "delete", "rename", "junk", "thread", "slow", "endless", "kill-watcher",
                 "rerun-all", "move-sub"],
                weights=[40, 20, 8, 8, 3, 3, 2, 1, 0.3, 0.5, 0.5])[0]
            _act(action, key, files, reloader, rng, tmp_path)
            actions[action] += 1
            most_pending = max(most_pending, reloader.status()["pending"])
            assert reloader.running, "the reloader stopped"
            time.sleep(rng.choice([0, 0, 0.001, 0.01, 0.05, 0.2]))
        # Calm down: one final good version of every file, each waited for, then exact answers.
        final = {key: files.next_version() for key in KEYS}
        for key in KEYS:
            before = events.last_seq
            files.save(key, source(key, final[key]))
            _wait_for(events, before, lambda e, key=key: e.outcome == "ok" and e.path == str(files.where[key]))
        # A run that was under way when a final save landed may finish after it: wait for the answers.
        _wait_until(lambda: (TARGET.shout("x"), TARGET.Box().size(), TARGET.Box.kind(), TARGET.LIMIT)
                    == (f"f1v{final[1]}", f"f2v{final[2]}", f"f3v{final[3]}", f"f4v{final[4]}"))
        _wait_until(lambda: GREET("x") in (f"f0v{final[0]} x", f"f5v{final[5]} x"))  # two layers, stacked
        for key, then in ((5, f"f0v{final[0]} x"), (0, "hello x")):  # undo one layer, then the other
            path = files.where[key]
            assert path is not None
            before = events.last_seq
            path.unlink()
            _wait_for(events, before, lambda e, path=path: e.outcome == "removed" and e.path == str(path))
            assert GREET("x") == then
    finally:
        caller.halt.set()
        caller.join(10)
        reloader.stop(timeout=30, undo=True)
    # Nothing lost: stopping undid every file's replacements, before any restore_all ...
    assert_nothing_lost(TARGET, ORIGINAL)
    # ... and a restore_all on top changes nothing.
    registry.restore_all()
    assert_nothing_lost(TARGET, ORIGINAL)
    time.sleep(1.0)
    report = {
        "seed": seed, "minutes": round((time.monotonic() - started) / 60, 2), "actions": dict(actions),
        "events": dict(outcomes),
        "error_types": dict(error_types), "calls_checked": caller.calls, "bad_answers": caller.problems,
        "most_pending": most_pending, "rss_mb": {"start": rss_start >> 20, "after_warmup": rss_warm >> 20,
                                                 "end": process.memory_info().rss >> 20},
        "threads": {"before": threads_before, "after": threading.active_count()},
    }
    print("\nsoak:", json.dumps(report, indent=1))
    if os.environ.get("SOAK_REPORT"):
        Path(os.environ["SOAK_REPORT"]).write_text(json.dumps(report, indent=1), encoding="utf-8")
    assert caller.problems == [], "a patched function answered something no version returns"
    assert internal == [], "the reloader hit an internal error"
    assert outcomes["ok"] > 0 and outcomes["error"] > 0 and outcomes["removed"] > 0
    assert threading.active_count() <= threads_before + 2, "threads leaked"


def _act(action: str, key: int, files: Files, reloader: Reloader, rng: random.Random, tmp_path: Path) -> None:
    version = files.next_version()
    where = files.where[key]
    if action == "good":
        files.save(key, source(key, version))
    elif action == "bad":
        files.save(key, source(key, version, rng.choice(list(FAILURES.values()))))
    elif action == "delete" and where is not None:
        where.unlink(missing_ok=True)
        files.where[key] = None
    elif action == "rename" and where is not None:
        target = rng.choice([name for name in files.names(key) if name != where])
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(where, target)
        files.where[key] = target
    elif action == "junk":
        files.save(key, rng.choice([b"\x00\x01binary\xff" * 64, b"caf\xe9 = 1\n", b""]))
    elif action == "thread":
        files.save(key, source(key, version, textwrap.dedent("""
            import threading
            threading.Thread(target=lambda: 1 / 0, name="soak-dies").start()
        """)))
    elif action == "slow":
        files.save(key, source(key, version, "import time\ntime.sleep(1.5)\n"))
    elif action == "endless":
        # Stuck until the next save of the same file interrupts it: that save follows.
        files.save(key, source(key, version, "n = 0\nwhile True:\n    n += 1\n"))
        time.sleep(rng.uniform(1.2, 2.5))
        files.save(key, source(key, files.next_version()))
    elif action == "kill-watcher":
        observer = reloader.observer
        if observer is not None:
            observer.stop()
    elif action == "rerun-all":
        reloader.rerun_all()
    elif action == "move-sub" and (files.folder / "sub").is_dir():
        outside = tmp_path / "sub-outside"
        shutil.move(str(files.folder / "sub"), outside)
        time.sleep(rng.uniform(0, 1))
        shutil.move(str(outside), files.folder / "sub")


def _wait_until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the final versions did not all become active"
        time.sleep(0.05)


def _wait_for(events: EventLog, after: int, predicate: Callable[[ReloadEvent], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    seen = after
    while time.monotonic() < deadline:
        for event in events.wait_after(seen, 1.0):
            seen = event.seq
            if predicate(event):
                return
    raise AssertionError(f"no matching event within {timeout} s; last: {events.recent(5)}")
