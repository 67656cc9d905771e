"""One start-up measurement in a fresh interpreter (the caches of an earlier run would flatter it);
prints one JSON object.

    python -m bench.startup_probe imports bare|warm
    python -m bench.startup_probe entry
    python -m bench.startup_probe app-started WEBUI_ROOT EXTENSION_DIR LIVE_DIR
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
STANDIN_WEBUI = REPO_ROOT / "tests" / "standin" / "webui"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# Modules every webui has imported long before an extension's callbacks run: the host imports
# gradio and FastAPI (and torch) before it even preloads extensions, and they pull in these standard
# modules; "warm" timings import them first, so only what we add is counted.
HOST_PRELOADED = ("argparse", "contextlib", "dataclasses", "importlib.util", "inspect", "json", "linecache",
                  "logging", "pathlib", "threading", "tokenize", "traceback", "typing", "weakref",
                  "fastapi", "gradio")


def _preload_host_stdlib() -> None:
    for name in HOST_PRELOADED:
        __import__(name)


def imports(mode: str) -> dict[str, Any]:
    """Each step adds to the one before: the package (what a live file's `from hotreload_lib import`
    needs), the host adapter (what the app-started callback loads), and the watcher (watchdog)."""
    if mode == "warm":
        _preload_host_stdlib()
    started = time.perf_counter()
    import hotreload_lib

    package_ms = _ms(started)
    started = time.perf_counter()
    import hotreload_lib.host

    host_ms = _ms(started)
    started = time.perf_counter()
    import hotreload_lib.watching.watch  # noqa: F401

    return {"package_ms": package_ms, "host_ms": host_ms, "watch_ms": _ms(started)}


def entry() -> dict[str, Any]:
    """The scripts entry executed from file as the host does, after other extensions registered
    their callbacks (so the registrars' inspect.stack(), which A1111's use too, is warm); then once
    more with the registrars made no-ops: the part that is ours alone."""
    _preload_host_stdlib()
    sys.path.insert(0, str(STANDIN_WEBUI))
    from modules import script_callbacks, script_loading

    script_callbacks.on_app_started(lambda *args: None)
    entry_file = str(REPO_ROOT / "scripts" / "hot_reload.py")
    started = time.perf_counter()
    script_loading.load_module(entry_file)
    entry_ms = _ms(started)
    for name in ("on_app_started", "on_ui_settings"):
        setattr(script_callbacks, name, lambda callback: None)
    started = time.perf_counter()
    script_loading.load_module(entry_file)
    return {"entry_ms": entry_ms, "entry_without_registrars_ms": _ms(started),
            "hotreload_lib_imported": "hotreload_lib" in sys.modules}


def app_started(webui_root: str, extension_dir: str, live_dir: str) -> dict[str, Any]:
    """Our two callbacks in the stand-in host, with --hot-reload-dir: ui_settings (the first to run,
    so it pays for loading hotreload_lib) and app_started (starts the reloader), and how long the
    reloader's own thread then takes until it watches (off the host's path: watchdog is imported there)."""
    sys.path.insert(0, webui_root)
    from fastapi import FastAPI
    from modules import script_callbacks

    from tests.standin.host import StandinWebui

    host = StandinWebui(Path(webui_root), [Path(extension_dir)])
    host.preload(["--hot-reload-dir", live_dir])
    _preload_host_stdlib()
    host.load_scripts()
    started = time.perf_counter()
    script_callbacks.fire("ui_settings")  # the first callback to run: it loads hotreload_lib
    ui_settings_ms = _ms(started)
    app = FastAPI()
    started = time.perf_counter()
    script_callbacks.fire("app_started", None, app)
    callback_ms = _ms(started)
    reloader = sys.modules["hotreload_lib.reloader"].get_reloader()
    while reloader is not None and reloader.mode == "starting" and time.perf_counter() - started < 30:
        time.sleep(0.0005)
    watching_ms = _ms(started)
    return {"ui_settings_ms": ui_settings_ms, "app_started_ms": callback_ms, "watching_ms": watching_ms,
            "mode": getattr(reloader, "mode", None)}


if __name__ == "__main__":
    what, *arguments = sys.argv[1:]
    measured = {"imports": imports, "entry": entry, "app-started": app_started}[what](*arguments)
    sys.stdout.write(json.dumps(measured) + "\n")
    sys.stdout.flush()
    os._exit(0)  # the reloader's observer thread need not be joined
