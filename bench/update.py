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

And what an edit of a function with nested functions costs on a webui-sized heap: the update of a
module whose `on_app_started` defines route handlers inside itself, looking through the callables the
host holds (its app's routes, its callback lists) for the closures to update; beside it, what the
alternative, `gc.get_referrers` of the old nested code (a walk of every object), would add per edit.

    python -m bench.update start-cost '<json config>'    (started by run_update, never by hand)
    python -m bench.update closures '<json config>'      (likewise)
"""
from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.util
import json
import os
import random
import subprocess
import sys
import time
import types
import weakref
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
# A webui with gradio, torch and a model loaded holds 1-2 million objects the collector tracks; the
# A1111 app serves ~150 routes (its API, gradio's, the extensions'), and its callback lists hold ~100.
HOST_ROUTES = 150
HOST_CALLBACKS = 100
ROUTES_MODULE = """
def on_app_started(demo, app):
    @app.get("/bench-ext/ping")
    async def ping():
        return {"answer": "pong 0"}

    @app.get("/bench-ext/hello")
    def hello(name: str = "you"):
        return {"answer": "hello " + name}
"""


def run_update(root: Path, logs: Path, *, saves: int, warmup: int, processes: int, imports: tuple[str, ...],
               rng: random.Random, progress: Progress, heap_objects: int, closure_edits: int) -> dict[str, Any]:
    logs = logs / "update"  # the latency part's agents have logs of the same names
    logs.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for subject in (TRACKED, JURIGGED):
        progress(f"save -> updated: {subject.label} ({', '.join(KINDS[subject.key])} saves)")
        rows += run_subject(replace(subject, imports=imports), root / subject.key, logs,
                            kinds=dict.fromkeys(KINDS[subject.key], saves), warmup=warmup, busy=False, rng=rng)
    progress(f"start cost of tracking an extension of {PACKAGE_MODULES + 1 + SCRIPTS} modules "
             f"({processes} fresh processes)")
    start = measure_start_cost(root / "extension", processes=processes, imports=imports)
    progress(f"an edit of nested route handlers on a heap of {heap_objects:,} objects ({closure_edits} edits)")
    closures = _in_fresh_process("closures", {"root": str(root / "closures"), "imports": list(imports),
                                              "heap_objects": heap_objects, "edits": closure_edits})
    return {"module_lines": len(tracked_module_source(0).splitlines()), "imports": list(imports), "rows": rows,
            "start": start, "closures": closures}


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
    return _in_fresh_process("start-cost", {"root": str(root), "imports": list(imports)})


def _in_fresh_process(command: str, config: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run([sys.executable, "-m", "bench.update", command, json.dumps(config)], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"the {command} process failed (exit {run.returncode}): {run.stderr[-2000:]}")
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
    from hotreload_lib.update.tracked import SourceStore

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


class _Filler:
    """What most of a webui's heap is: small objects holding containers."""

    def __init__(self, number: int) -> None:
        self.values = [number]
        self.names = {"n": number}


def _closures_process(config: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process with a webui-sized heap: an app with the host's number of routes, callback
    lists, and a script module whose on_app_started made route handlers; each edit changes the
    handlers' answer, applied as the tracked tree applies it (update_module with the host's
    held_callables); the same edit of a copy of the module whose handlers no host holds, updated
    without looking (the engine's own cost); and gc.get_referrers of the handler's old code."""
    from fastapi import FastAPI

    for name in config["imports"]:
        importlib.import_module(name)
    from hotreload_lib import host
    from hotreload_lib.update.codediff import parse
    from hotreload_lib.update.modupdate import update_module

    filler = [_Filler(number) for number in range(max(0, config["heap_objects"] - len(gc.get_objects())) // 3)]
    app = FastAPI()
    for number in range(HOST_ROUTES):
        app.add_api_route(f"/sdapi/v1/route-{number}", lambda number=number: {"n": number}, methods=["GET"])
    callbacks = types.ModuleType("modules.script_callbacks")
    callbacks.callback_map = {f"callbacks_{kind}": [types.SimpleNamespace(callback=lambda kind=kind: kind)
                                                    for _ in range(HOST_CALLBACKS // 10)] for kind in range(10)}
    sys.modules["modules.script_callbacks"] = callbacks
    host._app[0] = weakref.ref(app)
    folder = Path(config["root"])
    folder.mkdir(parents=True, exist_ok=True)
    subjects = []
    for name, held, key in (("bench_routes", host.held_callables, "update_ms"),
                            ("bench_routes_alone", None, "update_without_host_ms")):
        path = folder / f"{name}.py"
        path.write_text(ROUTES_MODULE, encoding="utf-8")
        module = _load_script(path)
        module.on_app_started(None, app if held else FastAPI())
        subjects.append((module, held, key, [parse(ROUTES_MODULE, str(path))]))
    [ping] = [route.endpoint for route in app.routes if getattr(route, "path", "") == "/bench-ext/ping"]
    timings: dict[str, list[float]] = {"update_ms": [], "update_without_host_ms": [], "get_referrers_ms": []}
    for edit in range(1, config["edits"] + 1):
        for module, held, key, version in subjects:
            new = parse(ROUTES_MODULE.replace("pong 0", f"pong {edit}"), version[0].filename)
            started = time.perf_counter()
            result = update_module(module, version[0], new, held)
            timings[key].append((time.perf_counter() - started) * 1000)
            if not result.ok:
                raise RuntimeError(f"the update failed: {result}")
            version[0] = new
        if asyncio.run(ping()) != {"answer": f"pong {edit}"}:
            raise RuntimeError("the route's handler did not take the code of the update that looked for it")
        started = time.perf_counter()
        gc.get_referrers(ping.__code__)
        timings["get_referrers_ms"].append((time.perf_counter() - started) * 1000)
    return {"heap_objects": len(gc.get_objects()), "filler": len(filler), "routes": len(app.routes),
            "callbacks": HOST_CALLBACKS, "edits": config["edits"],
            **{key: summarize(samples) for key, samples in timings.items()}}


def _load_script(path: Path) -> Any:
    """As the host loads a scripts/*.py: executed from its file, kept outside sys.modules."""
    spec = importlib.util.spec_from_file_location(path.name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    command, argument = sys.argv[1:]
    processes = {"start-cost": _start_cost_process, "closures": _closures_process}
    if command not in processes:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(processes[command](json.loads(argument))))
