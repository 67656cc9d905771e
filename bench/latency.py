"""Save -> applied: the same writer saves a file again and again; the subject's process reports when
`bench_target.value_<lane>()` returns the new version. One series = one subject, one kind of save,
idle or with a thread busy in Python code in the subject's process.

Saves are made one at a time, each a random pause after the previous one was applied (so no timer of
the subject stays in step with the writer). The 2 s scan is the exception: one save at a time would
land right after each scan (every sample ~1.96 s) and cost 2 s a sample, so it gets ten files ("lanes")
saved at random moments, independent of its scan phase, each only once its previous save was applied.
"""
from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .report import summarize
from .writer import ORIGINAL_VALUE, TARGET_MODULE, live_source, save, target_source

REPO_ROOT = Path(__file__).resolve().parents[1]
GAP_RANGE = (0.02, 0.05)
GIVE_UP_AFTER_MISSES = 3


@dataclass(frozen=True)
class Subject:
    key: str  # the agent's subject
    label: str
    style: str  # writer.live_source style
    edits_target: bool = False  # the saved file is the imported module itself (jurigged)
    timeout: float = 3.0  # a save not applied within this is a miss
    lanes: int = 1
    gap: tuple[float, float] = GAP_RANGE  # pause before a save, after the previous applied (or saved, with lanes)
    imports: tuple[str, ...] = ()  # what the agent imports first (gradio: a webui-sized sys.modules and heap)


OURS = Subject("ours", "ours: live file, in-process", "replace")
OURS_CLI = Subject("ours-cli", "ours: python -m hotreload_lib watch", "replace")
JURIGGED = Subject("jurigged", "jurigged 0.6.1: watch(), in place", "module", edits_target=True)
SCAN = Subject("scan", "2 s mtime scan (text-gen-webui)", "setattr", timeout=5.0, lanes=10, gap=(0.0, 0.4))
FLOOR = Subject("floor", "floor: bare watchdog event, no reload", "replace")
Progress = Callable[[str], None]


class AgentProcess:
    """A running `python -m bench.agent`, its reports in a queue."""

    def __init__(self, config: dict[str, Any], log_path: Path) -> None:
        read_fd, write_fd = os.pipe()
        self.log_path = log_path
        self.log = open(log_path, "ab")  # closed in close()
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.agent", json.dumps({**config, "report_fd": write_fd})],
            cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
            pass_fds=(write_fd,), text=True,
        )
        os.close(write_fd)
        self.reports: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, args=(read_fd,), daemon=True).start()

    def _read(self, read_fd: int) -> None:
        with os.fdopen(read_fd, encoding="utf-8") as reports:
            for line in reports:
                self.reports.put(json.loads(line))
        self.reports.put(None)

    def next_report(self, timeout: float) -> dict[str, Any] | None:
        try:
            report = self.reports.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if report is None:
            raise RuntimeError(f"the agent ended (exit {self.process.wait()}); its log: {self.log_tail()}")
        if "error" in report:
            raise RuntimeError(f"the agent failed: {report['error']}; its log: {self.log_tail()}")
        return report

    def wait_for(self, accept: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any] | None:
        """The next report that `accept`s within `timeout` s; the others are dropped."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            report = self.next_report(remaining)
            if report is not None and accept(report):
                return report
        return None

    def ready(self, timeout: float = 180) -> dict[str, Any]:
        report = self.wait_for(lambda r: "ready" in r, timeout)
        if report is None:
            raise RuntimeError(f"the agent did not get ready within {timeout} s; its log: {self.log_tail()}")
        return report["ready"]

    def stats(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        report = self.wait_for(lambda r: "stats" in r, 30)
        if report is None:
            raise RuntimeError(f"the agent did not answer 'stats'; its log: {self.log_tail()}")
        return report["stats"]

    def log_tail(self, chars: int = 2000) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.log.close()


@dataclass
class Workspace:
    """One subject's folders: `folder` is watched, `targets` holds the imported bench_target, and
    the writer saves `live_files` (one per lane)."""

    folder: Path
    targets: Path
    live_files: list[Path]


def prepare(root: Path, subject: Subject, live_subdir: str = "") -> Workspace:
    folder = root / "live"
    targets = folder if subject.edits_target else root / "targets"
    (folder / live_subdir).mkdir(parents=True, exist_ok=True)
    targets.mkdir(parents=True, exist_ok=True)
    target_file = targets / f"{TARGET_MODULE}.py"
    if subject.edits_target:
        target_file.write_text(live_source(subject.style, 0), encoding="utf-8")
        return Workspace(folder, targets, [target_file])
    target_file.write_text(target_source([ORIGINAL_VALUE] * subject.lanes), encoding="utf-8")
    live_files = [folder / live_subdir / f"patch_{lane}.py" for lane in range(subject.lanes)]
    for lane, path in enumerate(live_files):
        path.write_text(live_source(subject.style, 0, lane), encoding="utf-8")
    return Workspace(folder, targets, live_files)


def start_agent(subject: Subject, workspace: Workspace, logs: Path, *, busy: bool = False, poll: bool = True,
                log_name: str = "", **extra: Any) -> AgentProcess:
    config = {"subject": subject.key, "folder": str(workspace.folder), "targets": str(workspace.targets),
              "live_file": str(workspace.live_files[0]), "lanes": len(workspace.live_files),
              "initial": [0] * len(workspace.live_files), "busy": busy, "poll": poll,
              "imports": list(subject.imports), **extra}
    name = log_name or f"{subject.key}-{'busy' if busy else 'idle'}"
    return AgentProcess(config, logs / f"agent-{name}.log")


def wait_applied(agent: AgentProcess, lane: int, version: int, timeout: float) -> dict[str, Any] | None:
    return agent.wait_for(lambda r: "seen" in r and r["seen"][lane] == version, timeout)


@dataclass
class Pending:
    version: int
    saved_ns: int
    deadline: float
    measured: bool  # False during warm-up


def measure_series(agent: AgentProcess, subject: Subject, workspace: Workspace, kind: str, *, saves: int,
                   warmup: int, rng: random.Random, first_version: int = 1) -> dict[str, Any]:
    """`warmup + saves` saves of `kind`; returns the statistics of the applied ones, the misses, and
    how often the loop saw the target's original come back in between (a reload that undoes the old
    replacement before the new one is made)."""
    lanes = len(workspace.live_files)
    total = warmup + saves
    pending: dict[int, Pending] = {}
    samples: list[float] = []
    attempted = missed = consecutive_misses = originals_seen = 0
    next_save = time.monotonic() + rng.uniform(*subject.gap)
    while (attempted < total and consecutive_misses < GIVE_UP_AFTER_MISSES) or pending:
        now = time.monotonic()
        free = [lane for lane in range(lanes) if lane not in pending]
        may_save = attempted < total and consecutive_misses < GIVE_UP_AFTER_MISSES
        if may_save and now >= next_save:
            if free:
                lane = rng.choice(free)
                version = first_version + attempted
                saved_ns = save(workspace.live_files[lane], live_source(subject.style, version, lane), kind)
                pending[lane] = Pending(version, saved_ns, time.monotonic() + subject.timeout, attempted >= warmup)
                attempted += 1
            if lanes > 1 or not free:
                next_save = time.monotonic() + rng.uniform(*subject.gap)
            continue
        wake = min([p.deadline for p in pending.values()] + ([next_save] if may_save and free else []))
        report = agent.next_report(wake - now)
        finished: list[int] = []
        if report is not None and "seen" in report:
            originals_seen += ORIGINAL_VALUE in report["seen"]
            for lane, entry in pending.items():
                if report["seen"][lane] == entry.version:
                    finished.append(lane)
                    consecutive_misses = 0
                    if entry.measured:
                        samples.append((report["t_ns"] - entry.saved_ns) / 1e6)
        for lane, entry in pending.items():
            if lane not in finished and time.monotonic() >= entry.deadline:
                finished.append(lane)
                missed += 1
                consecutive_misses += 1
        for lane in finished:
            del pending[lane]
        if finished and lanes == 1:
            next_save = time.monotonic() + rng.uniform(*subject.gap)
    return {"save": kind, "attempted": attempted, "missed": missed,
            "gave_up": consecutive_misses >= GIVE_UP_AFTER_MISSES, "original_seen": originals_seen,
            **summarize(samples),
            "next_version": first_version + attempted}


def run_subject(subject: Subject, root: Path, logs: Path, *, kinds: dict[str, int], warmup: int,
                busy: bool, rng: random.Random) -> list[dict[str, Any]]:
    """Every kind of save for one subject, in one agent process; `kinds` maps a kind to its count."""
    workspace = prepare(root, subject)
    agent = start_agent(subject, workspace, logs, busy=busy)
    rows: list[dict[str, Any]] = []
    try:
        agent.ready()
        version = 1
        for kind, saves in kinds.items():
            row = measure_series(agent, subject, workspace, kind, saves=saves, warmup=warmup, rng=rng,
                                 first_version=version)
            version = row.pop("next_version")
            if row["missed"]:
                row["note"] = _after_misses(agent, subject, workspace, version, row)
                version += 1
            rows.append({"subject": subject.key, "label": subject.label, "load": "busy" if busy else "idle",
                         "lanes": subject.lanes, **row})
    finally:
        agent.close()
    return rows


def _after_misses(agent: AgentProcess, subject: Subject, workspace: Workspace, version: int,
                  row: dict[str, Any]) -> str:
    """What became of the file after missed saves: does a later in-place save still get applied?"""
    saved_ns = save(workspace.live_files[0], live_source(subject.style, version, 0), "in-place")
    seen = wait_applied(agent, 0, version, subject.timeout)
    what = (f"{row['missed']} of {row['attempted']} {row['save']} saves never applied (waited "
            f"{subject.timeout:g} s each{'; gave up' if row['gave_up'] else ''})")
    if seen is None:
        return what + "; a later in-place save was not applied either"
    return what + f"; a later in-place save was applied after {(seen['t_ns'] - saved_ns) / 1e6:.1f} ms"


def run_latency(root: Path, logs: Path, *, saves: int, warmup: int, rng: random.Random,
                progress: Progress) -> list[dict[str, Any]]:
    both = {"in-place": saves, "atomic": saves}
    plan: list[tuple[Subject, dict[str, int], bool]] = [
        (FLOOR, both, False), (OURS, both, False), (OURS_CLI, {"in-place": saves}, False),
        (JURIGGED, both, False), (SCAN, both, False),
        (FLOOR, both, True), (OURS, both, True), (JURIGGED, {"in-place": saves}, True),
    ]
    rows: list[dict[str, Any]] = []
    for number, (subject, kinds, busy) in enumerate(plan):
        progress(f"save -> applied: {subject.label}, {'busy' if busy else 'idle'} ({', '.join(kinds)} saves)")
        rows += run_subject(subject, root / f"{number}-{subject.key}-{'busy' if busy else 'idle'}", logs,
                            kinds=kinds, warmup=warmup, busy=busy, rng=rng)
    return rows
