"""The event stream under load: does the webui's event loop stay free for its other routes?

Both parts run the demo (`python -m hotreload_lib demo FOLDER --port PORT`: the gradio 3.41 app as
the webui builds it, GZip middleware and our routes on it) in its own process, and load it from
this one on 127.0.0.1 with plain asyncio sockets, while a prober in a third process (so that
neither the load nor the server delays its clock) asks a plain gradio route (`/app_id`; in the
reconnect storm `/config` too) on a kept-alive connection every PROBE_GAP seconds and times each
answer.

- Save storm: `clients` streams read everything they are sent while `saves` new live files are
  saved as fast as the disk takes them (one event each); until every stream has every event. The
  same storm with one stream is the control: what the storm itself (the reloader's thread running
  500 files, the garbage collector, the machine's other load) costs the route.
- Reconnect storm: `files` live files run at start; `clients` pages, each from a random moment in
  the first 2 s, connect with an old Last-Event-ID (a backlog of events to send each time), read
  for a random while (some not at all), drop the connection and come back, about every 2 s, for
  `seconds`, while a live file is saved every 50 ms. Afterwards: how many asyncio/uvicorn warnings
  the demo printed and how many of its connections are still open.
"""
from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .latency import REPO_ROOT, Progress
from .report import summarize
from .toast import DEMO_START_TIMEOUT, Demo, _free_port, demo_command
from .writer import save

EVENTS_PATH = "/hot-reload/events"
PROBE_GAP = 0.02
RELOAD_MARK = b"event: reload"
LAST_ID = re.compile(rb"id: (\d+)\n")
STORM_TIMEOUT = 180.0
# What a flooded or stuck server prints: asyncio writing to sockets of departed clients, uvicorn
# giving up on a response.
WARNINGS = ("socket.send() raised exception", "Exception in ASGI application",
            "ASGI callable returned without completing response")


def probe(port: int, paths: list[str]) -> None:
    """The prober's process (`python -c "from bench.stream import probe; probe(PORT, PATHS)"`):
    asks `paths` in turn on one kept-alive connection until its stdin closes, then prints the
    milliseconds of each answer as JSON."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    samples: dict[str, list[float]] = {path: [] for path in paths}
    with socket.create_connection(("127.0.0.1", port)) as connection:
        answers = connection.makefile("rb")

        def ask(path: str) -> float:
            started = time.perf_counter()
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            length = 0
            while (line := answers.readline()) != b"\r\n":
                if not line:
                    raise ConnectionError(f"the server closed the prober's connection while asked {path}")
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            answers.read(length)
            return (time.perf_counter() - started) * 1000

        for path in paths:  # the first answers warm up gradio's thread pool: not counted
            ask(path)
        print(json.dumps({"local_port": connection.getsockname()[1]}), flush=True)
        while not stop.wait(PROBE_GAP):
            for path in paths:
                samples[path].append(ask(path))
    print(json.dumps(samples), flush=True)


class Prober:
    """The prober's process: it asks from its start until stop(), which returns the figures per route."""

    def __init__(self, port: int, paths: tuple[str, ...]) -> None:
        code = f"from bench.stream import probe; probe({port}, {list(paths)!r})"
        self.process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.local_port = json.loads(self.process.stdout.readline())["local_port"]

    def stop(self) -> dict[str, Any]:
        output, _ = self.process.communicate(timeout=120)
        return {path: summarize(samples) for path, samples in json.loads(output).items()}


@dataclass
class StreamReader:
    """One page's stream, read as fast as it comes; counts reload messages, resumes when cut off."""

    port: int
    reloads: int = 0
    cut_off: int = 0
    last_id: str = ""
    hello: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            headers = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{headers}\r\n".encode())
            tail = b""
            try:
                while not stop.is_set():
                    data = await reader.read(65536)
                    if not data:
                        self.cut_off += 1
                        break
                    window = tail + data
                    self.reloads += window.count(RELOAD_MARK)
                    ids = LAST_ID.findall(window)
                    if ids:
                        self.last_id = ids[-1].decode()
                        self.hello.set()
                    tail = window[-(len(RELOAD_MARK) - 1):]
            finally:
                writer.close()


async def _save_storm(port: int, live: Path, clients: int, saves: int) -> dict[str, Any]:
    stop = asyncio.Event()
    streams = [StreamReader(port) for _ in range(clients)]
    tasks = [asyncio.create_task(stream.run(stop)) for stream in streams]
    await asyncio.wait_for(asyncio.gather(*(stream.hello.wait() for stream in streams)), 60)
    prober = Prober(port, ("/app_id",))
    await asyncio.sleep(0.5)  # a few samples before the storm
    started = time.monotonic()

    def storm() -> None:
        for number in range(saves):
            save(live / f"storm_{number:04d}.py", f"X = {number}\n", "in-place")

    saving = threading.Thread(target=storm)
    saving.start()
    while min(stream.reloads for stream in streams) < saves and time.monotonic() - started < STORM_TIMEOUT:
        await asyncio.sleep(0.05)
    delivered_s = time.monotonic() - started
    await asyncio.sleep(0.5)
    route = prober.stop()
    stop.set()
    saving.join()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"clients": clients, "saves": saves, "delivered_s": round(delivered_s, 2),
            "every_stream_got_every_event": min(stream.reloads for stream in streams) >= saves,
            "fewest_events_on_a_stream": min(stream.reloads for stream in streams),
            "streams_cut_off": sum(stream.cut_off for stream in streams), "route": route}


async def _reconnecting_page(port: int, stop: asyncio.Event, rng: random.Random, counts: dict[str, int]) -> None:
    await asyncio.sleep(rng.uniform(0.0, 2.0))  # pages come and go at their own moments, not as one herd
    while not stop.is_set():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # An old id: the server has the whole backlog after it to send.
        writer.write(f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Last-Event-ID: {rng.randint(1, 20)}\r\n\r\n".encode())
        reading_until = time.monotonic() + rng.choice([0.0, rng.uniform(0.1, 1.5)])
        try:
            while time.monotonic() < reading_until:
                await asyncio.wait_for(reader.read(65536), max(0.01, reading_until - time.monotonic()))
        except asyncio.TimeoutError:
            pass
        finally:
            # Gone at once, whatever was still coming: unread bytes make the kernel reset the connection.
            writer.transport.abort()
        counts["connections"] += 1
        await asyncio.sleep(max(0.0, 2.0 - rng.uniform(0.0, 1.5)))


def _open_connections(pid: int, port: int, but: int) -> int:
    """The server's connections on `port`, but the one from local port `but`."""
    import psutil

    return sum(1 for c in psutil.Process(pid).net_connections(kind="tcp")
               if c.laddr and c.laddr.port == port and c.status != psutil.CONN_LISTEN
               and not (c.raddr and c.raddr.port == but))


async def _reconnect_storm(port: int, pid: int, live: Path, files: int, clients: int, seconds: float,
                           rng: random.Random) -> dict[str, Any]:
    stop = asyncio.Event()
    counts = {"connections": 0}
    prober = Prober(port, ("/app_id", "/config"))
    pages = [asyncio.create_task(_reconnecting_page(port, stop, random.Random(rng.random()), counts))
             for _ in range(clients)]
    saving_stop = threading.Event()

    def keep_saving() -> None:
        number = 0
        while not saving_stop.wait(0.05):
            number += 1
            save(live / f"live_{number % files:04d}.py", f"X = {number}\n", "in-place")

    saving = threading.Thread(target=keep_saving)
    saving.start()
    await asyncio.sleep(seconds)
    saving_stop.set()
    saving.join()
    stop.set()
    for task in pages:
        task.cancel()
    await asyncio.gather(*pages, return_exceptions=True)
    await asyncio.sleep(3.0)  # the server's time to let go of the departed pages
    held = _open_connections(pid, port, but=prober.local_port)
    route = prober.stop()
    return {"clients": clients, "files": files, "seconds": seconds, "connections_made": counts["connections"],
            "connections_held_after": held, "route": route}


def _with_demo(root: Path, logs: Path, name: str, files: int, work: Any) -> dict[str, Any]:
    """Serve the demo on a folder of `files` live files; `work(port, pid, live)` loads it."""
    live = root / name / "live"
    live.mkdir(parents=True, exist_ok=True)
    for number in range(files):
        (live / f"live_{number:04d}.py").write_text(f"X = {number}\n", encoding="utf-8")
    port = _free_port()
    command, reason = demo_command(live, port)
    if command is None:
        return {"status": "skipped", "reason": reason}
    demo = Demo(command, logs / f"stream-{name}.log")
    try:
        if not demo.url_found.wait(DEMO_START_TIMEOUT):
            return {"status": "failed", "reason": f"the demo printed no address: {''.join(demo.output)[-500:]}"}
        _wait_until_served(port)
        time.sleep(0.5 + files / 500)  # the files present at start have run
        before = len(demo.output)
        result = work(port, demo.process.pid, live)
        printed = "".join(demo.output[before:])
        return {"status": "ok", **result, "warnings": {w: printed.count(w) for w in WARNINGS}}
    finally:
        demo.close()


def _wait_until_served(port: int) -> None:
    deadline = time.monotonic() + DEMO_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)


def run_stream(root: Path, logs: Path, *, clients: int, saves: int, reconnect_clients: int, reconnect_files: int,
               reconnect_seconds: float, rng: random.Random, progress: Progress) -> dict[str, Any]:
    progress(f"event stream: {clients} streams and a {saves}-save storm, then one stream (the control)")
    storm = _with_demo(root, logs, "save-storm", 2,
                       lambda port, _pid, live: asyncio.run(_save_storm(port, live, clients, saves)))
    control = _with_demo(root, logs, "save-storm-control", 2,
                         lambda port, _pid, live: asyncio.run(_save_storm(port, live, 1, saves)))
    progress(f"event stream: {reconnect_clients} pages reconnecting for {reconnect_seconds:g} s, "
             f"{reconnect_files} live files")
    reconnect = _with_demo(root, logs, "reconnect-storm", reconnect_files,
                           lambda port, pid, live: asyncio.run(_reconnect_storm(
                               port, pid, live, reconnect_files, reconnect_clients, reconnect_seconds, rng)))
    return {"save_storm": storm, "save_storm_control": control, "reconnect_storm": reconnect}
