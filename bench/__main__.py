"""`python -m bench` (or `./dev.sh bench`): run the benchmark, print the tables, write results.json.

    python -m bench                   the whole benchmark (about 10 minutes on 2 cores)
    python -m bench --quick           tiny counts, to check that it runs (what the CI smoke test does)
    python -m bench --only latency,rest
    python -m bench --update-docs     also put the tables into docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .applycall import run_apply
from .latency import REPO_ROOT, run_latency
from .report import check_targets, machine, render
from .rest import run_rest
from .scale import run_scale
from .stream import run_stream
from .toast import run_toast
from .ui import run_ui
from .update import run_update

PARTS = ("latency", "rest", "scale", "toast", "stream", "update", "apply", "ui")
RESULTS_FILE = Path(__file__).resolve().parent / "results.json"
RESULTS_DOC = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS_BEGIN = "<!-- bench:results:begin (python -m bench --update-docs writes between these lines) -->"
RESULTS_END = "<!-- bench:results:end -->"


@dataclass(frozen=True)
class Config:
    saves: int = 200  # per latency row, after the warm-up
    warmup: int = 10
    repeats: int = 15  # fresh processes per start-up figure
    idle_seconds: float = 60.0
    tree_files: int = 10_000
    deep_saves: int = 100
    storm_saves: int = 1_000
    toast_saves: int = 100
    stream_clients: int = 200
    stream_saves: int = 500
    reconnect_clients: int = 100
    reconnect_files: int = 300
    reconnect_seconds: float = 20.0
    webui_imports: tuple[str, ...] = ("gradio",)  # loaded first where a full webui process matters (update)
    ui_saves: int = 20  # tab edits rebuilt in place, in a real page
    ui_reloads: int = 5  # the host's Reload UI, in the same page
    heap_objects: int = 1_500_000  # a webui's, where an edit of nested functions is measured
    closure_edits: int = 30
    seed: int = 7


QUICK = Config(saves=5, warmup=1, repeats=1, idle_seconds=2.0, tree_files=500, deep_saves=3, storm_saves=50,
               toast_saves=3, stream_clients=10, stream_saves=20, reconnect_clients=10, reconnect_files=20,
               reconnect_seconds=3.0, webui_imports=(), heap_objects=20_000, closure_edits=2, ui_saves=2,
               ui_reloads=1)


def run(config: Config, parts: list[str], work: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    results: dict[str, Any] = {"schema": 1, "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "command": "python -m bench " + " ".join(sys.argv[1:]), "config": asdict(config),
                               "machine": machine(work, REPO_ROOT), "errors": {}}
    steps: dict[str, Callable[[], Any]] = {
        "latency": lambda: run_latency(work / "latency", logs, saves=config.saves, warmup=config.warmup, rng=rng,
                                       progress=progress),
        "rest": lambda: run_rest(work / "rest", logs, repeats=config.repeats, idle_seconds=config.idle_seconds,
                                 progress=progress),
        "scale": lambda: run_scale(work / "scale", logs, files=config.tree_files, saves=config.deep_saves,
                                   warmup=config.warmup, storm_saves=config.storm_saves, rng=rng, progress=progress),
        "toast": lambda: run_toast(work / "toast", logs, saves=config.toast_saves, rng=rng, progress=progress),
        "stream": lambda: run_stream(work / "stream", logs, clients=config.stream_clients, saves=config.stream_saves,
                                     reconnect_clients=config.reconnect_clients,
                                     reconnect_files=config.reconnect_files,
                                     reconnect_seconds=config.reconnect_seconds, rng=rng, progress=progress),
        "update": lambda: run_update(work / "update", logs, saves=config.saves, warmup=config.warmup,
                                     processes=config.repeats, imports=config.webui_imports, rng=rng,
                                     progress=progress, heap_objects=config.heap_objects,
                                     closure_edits=config.closure_edits),
        "apply": lambda: run_apply(work / "apply", logs, saves=config.saves, warmup=config.warmup, rng=rng,
                                   progress=progress),
        "ui": lambda: run_ui(work / "ui", logs, saves=config.ui_saves, reloads=config.ui_reloads, progress=progress),
    }
    started = time.monotonic()
    for part in parts:
        try:
            results[part] = steps[part]()
        except Exception as error:  # noqa: BLE001 - one failing part is reported; the others still run
            results["errors"][part] = f"{error!r}"
            progress(f"{part} FAILED:\n{traceback.format_exc()}")
    if str(results.get("ui", {}).get("gradio", "")).startswith("4."):
        # gradio 4 re-renders a rebuilt tab in the open page, gradio 3 reloads it: two figures, kept
        # apart, each from the environment that has that gradio (./dev.sh bench [--forge] --only ui).
        results["ui_gradio4"] = results.pop("ui")
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = check_targets(results)
    return results


def update_docs(table: str) -> None:
    text = RESULTS_DOC.read_text(encoding="utf-8")
    if RESULTS_BEGIN not in text or RESULTS_END not in text:
        raise SystemExit(f"{RESULTS_DOC.name} has no {RESULTS_BEGIN!r} … {RESULTS_END!r} block to update")
    head, rest = text.split(RESULTS_BEGIN, 1)
    tail = rest.split(RESULTS_END, 1)[1]
    RESULTS_DOC.write_text(f"{head}{RESULTS_BEGIN}\n\n{table}\n{RESULTS_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts: check that it runs, measure nothing")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of: {', '.join(PARTS)}")
    parser.add_argument("--out", type=Path, default=RESULTS_FILE, help="where results.json goes")
    parser.add_argument("--saves", type=int, help="saves per latency row (default 200)")
    parser.add_argument("--idle-seconds", type=float, help="how long the idle reloader is measured (default 60)")
    parser.add_argument("--update-docs", action="store_true", help="put the tables into docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (files and agents' logs)")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    if args.quick and args.update_docs:
        parser.error("--quick results are not measurements: they never go into the docs")
    config = QUICK if args.quick else Config()
    overrides = {"saves": args.saves, "idle_seconds": args.idle_seconds}
    config = Config(**{**asdict(config), **{k: v for k, v in overrides.items() if v is not None}})

    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {message}", file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="hot-reload-bench-"))
    results = run(config, parts, work, progress)
    table = render(results)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    progress(f"results written to {args.out}")
    if args.update_docs:
        update_docs(table)
        progress("docs/benchmarks.md updated")
    if results["errors"] or args.keep:
        progress(f"work folder with the agents' logs kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
