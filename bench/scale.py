"""Scale: a live folder holding a big tree, and a storm of saves to one file.

Tree: 10 000 files in 500 folders (25 x 20, two levels), the measured live file in the last
folder. Our reloader runs every .py file of the folder at start, so the tree is measured twice:
- data files (.txt): the cost of watching alone (inotify watches for 500 folders, one walk);
- tiny .py files ("x = 1"): the same plus running 10 000 live files at start, the worst case.
Both report the time until the observer runs ("watching") and until every file present at start
has run ("initial"), with watchdog and hotreload_lib already imported (their import is in rest.py),
and the RSS added. Then saves deep inside the tree are timed like the latency series.

Storm: 1 000 saves to one file within one second (in place, then atomic), each with a new version:
how many runs
the reloader made, their outcomes, how many read a half-written file (between the truncation and
the write of a save: they replace nothing), how often a call saw the original function in between,
and that the last content was applied.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .latency import OURS, REPO_ROOT, AgentProcess, Progress, Workspace, measure_series, prepare, start_agent
from .writer import ORIGINAL_VALUE, SAVE_KINDS

TOP_FOLDERS, SUB_FOLDERS = 25, 20
DEEP_FOLDER = f"d{TOP_FOLDERS - 1:02d}/s{SUB_FOLDERS - 1:02d}"
STORM_SETTLE = 1.5


def _relative(workspace: Workspace) -> str:
    """The measured live file as the reloader's events name it."""
    return workspace.live_files[0].relative_to(workspace.folder).as_posix()


def build_tree(folder: Path, files: int, suffix: str) -> None:
    """`files` files spread evenly over TOP_FOLDERS x SUB_FOLDERS folders."""
    per_folder = max(1, files // (TOP_FOLDERS * SUB_FOLDERS))
    content = "x = 1\n" if suffix == ".py" else "data\n"
    for top in range(TOP_FOLDERS):
        for sub in range(SUB_FOLDERS):
            directory = folder / f"d{top:02d}" / f"s{sub:02d}"
            directory.mkdir(parents=True, exist_ok=True)
            for number in range(per_folder):
                (directory / f"f{number:03d}{suffix}").write_text(content, encoding="utf-8")


def _tree_case(root: Path, logs: Path, *, files: int, suffix: str, saves: int, warmup: int,
               rng: random.Random) -> dict[str, Any]:
    workspace = prepare(root, OURS, live_subdir=DEEP_FOLDER)
    if files:
        build_tree(workspace.folder, files, suffix)
    agent = start_agent(OURS, workspace, logs, pre_import=True, start_timeout=600,
                        log_name=f"tree-{files}{suffix}")
    try:
        ready = agent.ready(timeout=600)
        runs_at_start = sum(count for outcomes in agent.stats()["events"].values()
                            for outcome, count in outcomes.items() if outcome.startswith("ok"))
        row = measure_series(agent, OURS, workspace, "in-place", saves=saves, warmup=warmup, rng=rng)
    finally:
        agent.close()
    row.pop("next_version")
    return {
        "files": files, "suffix": suffix, "folders": TOP_FOLDERS * SUB_FOLDERS if files else 0,
        "mode": ready.get("mode"), "watching_ms": round(ready["watching_ms"], 1),
        "initial_ms": round(ready["initial_ms"], 1), "runs_at_start": runs_at_start,
        "rss_added_mb": round((ready["rss_after"] - ready["rss_before"]) / 2**20, 1),
        "deep_save": {"file": _relative(workspace), **row},
    }


def run_storm(root: Path, logs: Path, *, kind: str, saves: int, seconds: float) -> dict[str, Any]:
    workspace = prepare(root, OURS)
    agent = start_agent(OURS, workspace, logs, log_name=f"storm-{kind}")
    try:
        agent.ready()
        before = agent.stats()["events"].get(_relative(workspace), {})
        last_saved_ns, storm_s = _storm(workspace, kind, saves, seconds)
        applied = _wait_last(agent, saves, timeout=10)
        seen_originals = applied.pop("seen_originals")
        time.sleep(STORM_SETTLE)  # runs still queued would show now
        after = agent.stats()["events"].get(_relative(workspace), {})
        late = [r for r in _drain(agent) if "seen" in r and r["seen"][0] != saves]
    finally:
        agent.close()
    outcomes = {outcome: count - before.get(outcome, 0) for outcome, count in after.items()
                if count > before.get(outcome, 0)}
    return {
        "save": kind, "saves": saves, "storm_s": round(storm_s, 3), "runs": sum(outcomes.values()),
        "outcomes": outcomes,
        "half_written_runs": outcomes.get("ok:nothing-replaced", 0),
        "last_applied": applied["last_applied"] and not late,
        "last_applied_after_ms": (round((applied["after_ns"] - last_saved_ns) / 1e6, 2)
                                  if applied["last_applied"] else None),
        "original_seen": seen_originals,
    }


def _storm(workspace: Workspace, kind: str, saves: int, seconds: float) -> tuple[int, float]:
    """The storm, written by a process of its own: here a thread reading the agent's reports would take
    the GIL between a save's truncation and its write, and the reloader would read many empty files."""
    written = subprocess.run(
        [sys.executable, "-m", "bench.writer", "storm", str(workspace.live_files[0]), OURS.style, kind,
         str(saves), str(seconds)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(written.stdout)
    return result["last_saved_ns"], result["storm_s"]


def _wait_last(agent: AgentProcess, last: int, timeout: float) -> dict[str, Any]:
    """Until the last version is applied; counts how often the original came back on the way (a run
    that read the file between its truncation and its write)."""
    originals = 0
    deadline = time.monotonic() + timeout
    while (report := agent.next_report(deadline - time.monotonic())) is not None:
        if "seen" not in report:
            continue
        if report["seen"][0] == ORIGINAL_VALUE:
            originals += 1
        if report["seen"][0] == last:
            return {"last_applied": True, "after_ns": report["t_ns"], "seen_originals": originals}
    return {"last_applied": False, "seen_originals": originals}


def _drain(agent: AgentProcess) -> list[dict[str, Any]]:
    reports = []
    while (report := agent.next_report(0)) is not None:
        reports.append(report)
    return reports


def run_scale(root: Path, logs: Path, *, files: int, saves: int, warmup: int, storm_saves: int,
              rng: random.Random, progress: Progress) -> dict[str, Any]:
    cases = []
    for suffix in (".txt", ".py"):
        progress(f"scale: {files} {suffix} files in {TOP_FOLDERS * SUB_FOLDERS} folders")
        cases.append(_tree_case(root / f"tree{suffix}", logs, files=files, suffix=suffix, saves=saves,
                                warmup=warmup, rng=rng))
    progress("scale: the same live file alone (the control for RSS and start)")
    control = _tree_case(root / "control", logs, files=0, suffix=".txt", saves=saves, warmup=warmup, rng=rng)
    storms = []
    for kind in SAVE_KINDS:
        progress(f"scale: {storm_saves} {kind} saves to one file within 1 s")
        storms.append(run_storm(root / f"storm-{kind}", logs, kind=kind, saves=storm_saves, seconds=1.0))
    return {"trees": cases, "control": control, "storms": storms}
