"""Save -> updated: a module of a tracked tree (about 1000 lines) imported in the agent's process, each
save a new body of the one function the agent calls. Ours updates the module in place (the reloader's
path for a tracked tree, agent.py's start_tracked); jurigged (watch(), its own usage) updates the same
module from the same saves. Both processes first import what a webui has loaded (gradio: ~1700
modules, ~170 000 objects), since finding what to patch costs more in a full process.

And what tracking an extension adds to the webui's start: importing our update engine, and
`SourceStore.snapshot_loaded` over an extension-sized tree of imported modules (two of them script
modules the host keeps outside sys.modules), in a fresh process per sample, each with the same
modules loaded. The first call of each process is what a start pays; later calls (a fresh store
each) show the same work with warm caches.

    python -m bench.update start-cost '<json config>'    (started by run_update, never by hand)
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .latency import REPO_ROOT, Progress, Subject, run_subject
from .report import summarize
from .writer import SAVE_KINDS, tracked_module_source

TRACKED = Subject("tracked", "ours: tracked module, updated in place", "tracked-module", edits_target=True)
JURIGGED = Subject("jurigged", "jurigged 0.6.1: watch(), the same module and saves", "tracked-module",
                   edits_target=True, timeout=5.0)
# jurigged applies no atomic save (see the save -> applied rows), so it gets in-place saves only.
KINDS = {TRACKED.key: SAVE_KINDS, JURIGGED.key: ("in-place",)}
EXTENSION_PACKAGE = "bench_extension_lib"
PACKAGE_MODULES = 27  # with the package's __init__ and two scripts: an extension of 30 modules
SCRIPTS = 2
CALLS_PER_PROCESS = 10


def run_update(root: Path, logs: Path, *, saves: int, warmup: int, processes: int, imports: tuple[str, ...],
               rng: random.Random, progress: Progress) -> dict[str, Any]:
    logs = logs / "update"  # the latency part's agents have logs of the same names
    logs.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for subject in (TRACKED, JURIGGED):
        progress(f"save -> updated: {subject.label} ({', '.join(KINDS[subject.key])} saves)")
        rows += run_subject(replace(subject, imports=imports), root / subject.key, logs,
                            kinds=dict.fromkeys(KINDS[subject.key], saves), warmup=warmup, busy=False, rng=rng)
    progress(f"start cost of tracking an extension of {PACKAGE_MODULES + 1 + SCRIPTS} modules "
             f"({processes} fresh processes)")
    return {"module_lines": len(tracked_module_source(0).splitlines()), "imports": list(imports), "rows": rows,
            "start": measure_start_cost(root / "extension", processes=processes, imports=imports)}


def measure_start_cost(root: Path, *, processes: int, imports: tuple[str, ...]) -> dict[str, Any]:
    _write_extension(root)
    samples = [_start_cost_sample(root, imports) for _ in range(processes)]
    expected = PACKAGE_MODULES + 1 + SCRIPTS
    if any(sample["snapshotted"] != expected for sample in samples):
        raise RuntimeError(f"snapshot_loaded took {[s['snapshotted'] for s in samples]} modules, not {expected}")
    return {
        "modules": expected, "processes": processes, "modules_loaded": samples[0]["modules_loaded"],
        "import_ms": summarize([sample["import_ms"] for sample in samples]),
        "first_snapshot_ms": summarize([sample["snapshots_ms"][0] for sample in samples]),
        "later_snapshot_ms": summarize([ms for sample in samples for ms in sample["snapshots_ms"][1:]]),
    }


def _write_extension(root: Path) -> None:
    """An extension's tree: a package of modules of ~200 lines, and scripts/ beside it."""
    package = root / EXTENSION_PACKAGE
    (root / "scripts").mkdir(parents=True, exist_ok=True)
    package.mkdir(parents=True, exist_ok=True)
    source = tracked_module_source(0, helpers=12, classes=2)
    names = [f"part_{number:02d}" for number in range(PACKAGE_MODULES)]
    (package / "__init__.py").write_text("".join(f"from . import {name}\n" for name in names), encoding="utf-8")
    for name in names:
        (package / f"{name}.py").write_text(source, encoding="utf-8")
    for number in range(SCRIPTS):
        (root / "scripts" / f"script_{number}.py").write_text(f"import {EXTENSION_PACKAGE}\n\n{source}",
                                                              encoding="utf-8")


def _start_cost_sample(root: Path, imports: tuple[str, ...]) -> dict[str, Any]:
    config = {"root": str(root), "imports": list(imports)}
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run([sys.executable, "-m", "bench.update", "start-cost", json.dumps(config)], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"the start-cost process failed (exit {run.returncode}): {run.stderr[-2000:]}")
    return json.loads(run.stdout.splitlines()[-1])


def _start_cost_process(config: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: what the webui has loaded (with our reloader), the extension imported the
    host's way, then tracking begins."""
    for name in config["imports"]:
        importlib.import_module(name)
    import hotreload_lib.reloader  # noqa: F401 - the webui runs it before tracking starts

    root = Path(config["root"])
    sys.path.insert(0, str(root))
    importlib.import_module(EXTENSION_PACKAGE)
    scripts = [_load_script(path) for path in sorted((root / "scripts").glob("*.py"))]
    started = time.perf_counter()
    from hotreload_lib.tracked import SourceStore

    import_ms = (time.perf_counter() - started) * 1000
    snapshots_ms = []
    snapshotted = 0
    for _ in range(CALLS_PER_PROCESS):
        store = SourceStore()
        started = time.perf_counter()
        snapshotted = len(store.snapshot_loaded(root, scripts))
        snapshots_ms.append((time.perf_counter() - started) * 1000)
    return {"import_ms": import_ms, "snapshots_ms": snapshots_ms, "snapshotted": snapshotted,
            "modules_loaded": len(sys.modules)}


def _load_script(path: Path) -> Any:
    """As the host loads a scripts/*.py: executed from its file, kept outside sys.modules."""
    spec = importlib.util.spec_from_file_location(path.name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    command, argument = sys.argv[1:]
    if command != "start-cost":
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(_start_cost_process(json.loads(argument))))
