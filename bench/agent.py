"""One subject in its own process: it holds the target functions, applies saves its own way, and a
tight loop in this same process reports when a call returns a new value.

    python -m bench.agent '<json config>'      (started by bench.latency.Agent, never by hand)

Each subject holds `lanes` functions `bench_target.value_<lane>` (one per independently saved file;
more than one only for the 2 s scan, see latency.py) and the loop watches the list of their results.

Subjects:
    ours      hotreload_lib's reloader, started as the webui host starts it (reloader.ensure_started)
    ours-cli  the same through `python -m hotreload_lib watch DIR` (its main(), on a thread)
    jurigged  jurigged.watch() on the folder holding the imported target module (its own usage)
    tracked   ours on that folder as a tracked tree: a save updates the imported module in place
    scan      the 2 s mtime scan baseline (bench.scan_baseline)
    floor     no reload at all: a bare watchdog handler that reads the version from the saved file, the
              earliest any watchdog-based reloader can apply a save
    none      nothing (the "same process without the reloader" of the idle measurement)

Reports go to the file descriptor `report_fd` as JSON lines: {"ready": {...}} once, then
{"seen": [values], "t_ns": monotonic_ns} for every change the loop observes, and {"stats": {...}} when
"stats" is written to stdin. CLOCK_MONOTONIC is system-wide, so the writer compares it directly.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.writer import function_name

ValueFn = Callable[[], list[int]]
VERSION_PATTERN = re.compile(rb"return (-?\d+)")


class Agent:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.folder = Path(config["folder"])
        self.report_file = os.fdopen(config["report_fd"], "w", buffering=1, encoding="utf-8")
        self.report_lock = threading.Lock()
        self.stop = threading.Event()
        self.events: defaultdict[str, Counter[str]] = defaultdict(Counter)  # file -> outcome -> count
        self.startup: dict[str, Any] = {}

    def report(self, message: dict[str, Any]) -> None:
        with self.report_lock:
            self.report_file.write(json.dumps(message) + "\n")

    def _count(self, event: Any) -> None:
        """Events by file and outcome; a run that replaced nothing read a file between its truncation
        and its write (every live file of the benchmark replaces something)."""
        empty = ":nothing-replaced" if event.outcome == "ok" and not event.replaced else ""
        self.events[event.file][event.outcome + empty] += 1

    # -- subjects ---------------------------------------------------------------------------
    def _target_values(self) -> ValueFn:
        sys.path.insert(0, self.config["targets"])
        import bench_target

        names = [function_name(lane) for lane in range(self.config.get("lanes", 1))]
        return lambda: [getattr(bench_target, name)() for name in names]

    def start_ours(self) -> ValueFn:
        values = self._target_values()
        if self.config.get("pre_import"):
            # Counted apart (rest.py measures imports): here only what watching the tree adds.
            import hotreload_lib.watching.watch  # noqa: F401
        from hotreload_lib.reloader import ensure_started, get_events

        get_events().subscribe(self._count)
        rss_before = psutil.Process().memory_info().rss
        started = time.perf_counter()
        reloader = ensure_started(self.folder)
        # Watching starts before the files present run (their runs are initial_ms): wait for the
        # observer, or for a mode that says it will not come.
        while reloader.observer is None and reloader.mode == "starting" and time.perf_counter() - started < 60:
            time.sleep(0.0005)
        watching_ms = (time.perf_counter() - started) * 1000
        while reloader.mode == "starting" and time.perf_counter() - started < 600:
            time.sleep(0.0005)  # the mode (native or polling) is announced once the first runs are done
        self.startup.update(watching_ms=watching_ms, mode=reloader.mode,
                            mode_reason=reloader.mode_reason, rss_before=rss_before, started=started)
        return values

    def start_ours_cli(self) -> ValueFn:
        values = self._target_values()
        from hotreload_lib.__main__ import main
        from hotreload_lib.reloader import get_events

        get_events().subscribe(self._count)
        threading.Thread(target=main, args=(["watch", str(self.folder)],), name="cli-main", daemon=True).start()
        return values

    def start_jurigged(self) -> ValueFn:
        values = self._target_values()
        import jurigged

        jurigged.watch(pattern=str(self.folder / "*.py"))
        return values

    def start_tracked(self) -> ValueFn:
        """The folder as a tracked tree of the process's reloader, as --hot-reload-track starts it
        (with an empty live folder beside it): each save updates the imported module in place."""
        values = self._target_values()
        from hotreload_lib.reloader import ensure_started, get_events

        get_events().subscribe(self._count)
        live = Path(tempfile.mkdtemp(prefix="bench-live-"))
        ensure_started(live, tracked=[self.folder.resolve()]).wait_until_watching(60)
        return values

    def start_scan(self) -> ValueFn:
        values = self._target_values()
        from bench.scan_baseline import MtimeScanner

        MtimeScanner(self.folder).start()
        return values

    def start_floor(self) -> ValueFn:
        from watchdog.events import FileClosedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        live_file = os.fsencode(self.config["live_file"])
        seen = [_read_version(live_file)]

        class SaveHandler(FileSystemEventHandler):
            def dispatch(self, event: FileSystemEvent) -> None:
                closed = isinstance(event, FileClosedEvent) and os.fsencode(event.src_path) == live_file
                moved_in = isinstance(event, FileMovedEvent) and os.fsencode(event.dest_path) == live_file
                if closed or moved_in:
                    seen[0] = _read_version(live_file)

        observer = Observer()
        observer.schedule(SaveHandler(), str(self.folder), recursive=True)
        observer.daemon = True
        observer.start()
        return lambda: [seen[0]]

    # -- the process ------------------------------------------------------------------------
    def run(self) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        subject = self.config["subject"]
        for name in self.config.get("imports", ()):
            importlib.import_module(name)
        value: ValueFn = list  # "none" holds nothing
        if subject != "none":
            value = getattr(self, "start_" + subject.replace("-", "_"))()
        self._wait_initial(value)
        threading.Thread(target=self._commands, name="agent-commands", daemon=True).start()
        if self.config.get("busy"):
            threading.Thread(target=_spin, name="agent-busy", daemon=True).start()
        self.report({"ready": self.startup})
        if self.config.get("poll"):
            self._poll(value, self.config.get("poll_interval", 0.0002))
        self.stop.wait()

    def _wait_initial(self, value: ValueFn) -> None:
        """Until the subject has applied the file as it was at start (for ours: the run of every file)."""
        expected = self.config.get("initial")
        if expected is None:
            return
        deadline = time.monotonic() + self.config.get("start_timeout", 120)
        while value() != expected:
            if time.monotonic() > deadline:
                self.report({"error": f"the initial version {expected} was not applied (value {value()})"})
                os._exit(3)
            time.sleep(0.0005)
        if "started" in self.startup:
            self.startup["initial_ms"] = (time.perf_counter() - self.startup.pop("started")) * 1000
            self.startup["rss_after"] = psutil.Process().memory_info().rss

    def _poll(self, value: ValueFn, interval: float) -> None:
        """The tight loop: a call every `interval` s; sleeping releases the GIL between calls, so in
        the idle case the loop does not delay the subject's own threads."""
        last = value()
        while not self.stop.is_set():
            current = value()
            if current != last:
                self.report({"seen": current, "t_ns": time.monotonic_ns()})
                last = current
            time.sleep(interval)

    def _commands(self) -> None:
        for line in sys.stdin:
            if line.strip() == "stats":
                process = psutil.Process()
                self.report({"stats": {
                    "cpu_s": time.process_time(), "rss": process.memory_info().rss,
                    "threads": threading.active_count(),
                    "events": {file: dict(counts) for file, counts in self.events.items()},
                }})
        self.stop.set()


def _read_version(path: bytes) -> int:
    try:
        with open(path, "rb") as file:
            found = VERSION_PATTERN.search(file.read())
    except OSError:
        return -2
    return int(found.group(1)) if found else -2


def _spin() -> None:
    """A thread busy in Python code, as a webui generating an image keeps one."""
    count = 0
    while True:
        count += 1


if __name__ == "__main__":
    Agent(json.loads(sys.argv[1])).run()
    os._exit(0)  # observers of some subjects are not daemons; the agent's work is done
