"""Save -> `apply` answered: a live file saved (in place), then the apply call over the loopback, timed
from the save to the answer read, its HTTP round trip included; every answer must report that save.
Two servers, each in a process of its own: the demo's gradio server, built like the webui's (GZip
middleware, the routes added after launch), and `watch --port`'s standard-library one. The client is
the `apply` command's own (client.request_apply), so a script or a test pays what is measured here,
plus its Python's start when it runs the command.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hotreload_lib.client import request_apply
from hotreload_lib.demo import free_port

from .latency import REPO_ROOT, Progress
from .report import summarize

START_TIMEOUT = 120.0
SERVERS = {
    "webui": "the demo's gradio server, built like the webui's",
    "watch": "`watch --port`, the standard library's server",
}


def _start(kind: str, folder: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    if kind == "webui":
        port = free_port()
        command = ["demo", str(folder), "--port", str(port)]
        url, said = f"http://127.0.0.1:{port}", "hot reload demo: open"
    else:
        command, url, said = ["watch", str(folder), "--port", "0"], "", "answering apply calls on "
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "hotreload_lib", *command], cwd=REPO_ROOT,
                                   stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if said in line:
                return process, url or line.rsplit(" ", 1)[1].strip()
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the {kind} server did not start: {log.read_text(errors='replace')[-2000:]}")


def _measure(url: str, live: Path, *, saves: int, warmup: int, rng: random.Random) -> dict[str, Any]:
    samples: list[float] = []
    missed = 0
    for number in range(warmup + saves):
        text = f"VALUE = {rng.randrange(10**9)}  # save {number}\n"
        started = time.perf_counter()
        with live.open("w", encoding="utf-8") as file:
            file.write(text)
        answer = request_apply(url, timeout=10)
        elapsed = (time.perf_counter() - started) * 1000
        reported = answer.status == 200 and answer.body.get("ok") and any(
            event["file"] == live.name and event["outcome"] == "ok" for event in answer.body.get("events", []))
        if not reported:
            missed += 1
        elif number >= warmup:
            samples.append(elapsed)
    return {**summarize(samples), "attempted": saves, "missed": missed}


def run_apply(root: Path, logs: Path, *, saves: int, warmup: int, rng: random.Random,
              progress: Progress) -> dict[str, Any]:
    rows = []
    for kind, label in SERVERS.items():
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        live = folder / "applied.py"
        live.write_text("VALUE = 0\n", encoding="utf-8")
        progress(f"save -> apply answered: {label}, {saves} saves")
        process, url = _start(kind, folder, logs / f"apply-{kind}.log")
        try:
            request_apply(url, timeout=30)  # the start pass, reported once
            rows.append({"server": kind, "label": label, **_measure(url, live, saves=saves, warmup=warmup, rng=rng)})
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    return {"rows": rows, "cpus": os.cpu_count()}
