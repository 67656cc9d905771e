"""Cost at rest: what the extension adds to the webui's start, and what an idle reloader costs.

Start-up figures come from fresh interpreters (bench/startup_probe.py), `repeats` each, reported
as median and min, with bytecode caches written by a first, unreported run. Idle CPU and RSS come
from two agent processes side by side: one runs only the reloader on a folder with one live file,
the other is the same process without it.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .latency import OURS, REPO_ROOT, AgentProcess, Progress, Subject, prepare, start_agent

NOTHING = Subject("none", "the same process without the reloader", "replace")
SETTLE_SECONDS = 2.0


def _probe_env(pycache: Path) -> dict[str, str]:
    """Bytecode caching on, as in a webui (this environment may turn it off), its caches kept in the
    work folder rather than beside the sources."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _probe(env: dict[str, str], *arguments: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "bench.startup_probe", *arguments], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"startup probe {arguments} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def _repeat(env: dict[str, str], repeats: int, *arguments: str) -> dict[str, Any]:
    """Median and min of every numeric field over `repeats` fresh processes, after one that fills
    the bytecode caches (a webui's every start but the first after an update)."""
    _probe(env, *arguments)
    runs = [_probe(env, *arguments) for _ in range(repeats)]
    summary: dict[str, Any] = {"repeats": repeats}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [run[key] for run in runs]
            summary[key] = {"median": round(statistics.median(values), 2), "min": round(min(values), 2)}
        else:
            summary[key] = value
    return summary


def startup_costs(root: Path, repeats: int) -> dict[str, Any]:
    from tests.standin.host import STANDIN_ROOT, install_extension

    webui_root = root / "webui"
    shutil.copytree(STANDIN_ROOT, webui_root)
    extension = install_extension(webui_root)
    live = root / "live"
    live.mkdir()
    env = _probe_env(root / "pycache")
    return {
        "imports_bare": _repeat(env, repeats, "imports", "bare"),
        "imports_warm": _repeat(env, repeats, "imports", "warm"),
        "entry": _repeat(env, repeats, "entry"),
        "callbacks": _repeat(env, repeats, "app-started", str(webui_root), str(extension), str(live)),
    }


def idle_costs(root: Path, logs: Path, seconds: float) -> dict[str, Any]:
    """CPU and RSS of an idle reloader: both processes are measured over the same `seconds`."""
    agents: dict[str, AgentProcess] = {}
    try:
        for name, subject in (("reloader", OURS), ("without", NOTHING)):
            workspace = prepare(root / name, subject)
            agents[name] = start_agent(subject, workspace, logs, poll=False, log_name=f"idle-{name}",
                                       **({} if subject is OURS else {"initial": None}))
        ready = {name: agent.ready() for name, agent in agents.items()}
        time.sleep(SETTLE_SECONDS)
        before = {name: agent.stats() for name, agent in agents.items()}
        started = time.monotonic()
        time.sleep(seconds)
        after = {name: agent.stats() for name, agent in agents.items()}
        wall = time.monotonic() - started
    finally:
        for agent in agents.values():
            agent.close()
    cpu = {name: (after[name]["cpu_s"] - before[name]["cpu_s"]) / wall * 100 for name in agents}
    return {
        "seconds": round(wall, 1),
        "mode": ready["reloader"].get("mode"),
        "cpu_percent_of_core": {name: round(value, 4) for name, value in cpu.items()},
        "extra_cpu_percent_of_core": round(cpu["reloader"] - cpu["without"], 4),
        "rss_mb": {name: round(after[name]["rss"] / 2**20, 1) for name in agents},
        "extra_rss_mb": round((after["reloader"]["rss"] - after["without"]["rss"]) / 2**20, 1),
        "threads": {name: after[name]["threads"] for name in agents},
    }


def run_rest(root: Path, logs: Path, *, repeats: int, idle_seconds: float, progress: Progress) -> dict[str, Any]:
    progress(f"at rest: start-up costs ({repeats} fresh processes each)")
    startup = startup_costs(root / "startup", repeats)
    progress(f"at rest: idle reloader vs the same process without it, {idle_seconds:g} s")
    return {**startup, "idle": idle_costs(root / "idle", logs, idle_seconds)}
