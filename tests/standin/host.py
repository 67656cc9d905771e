"""A stand-in for the webui host that reproduces how A1111 1.10 loads an extension
(../shared/HOST_CONTRACT.md), so the real extension files are exercised the way the host runs them:

- preload.py is executed from file and given the main parser, which is then parsed STRICTLY;
- install.py runs in a separate process with PYTHONPATH = webui root (so `import launch` works);
- every scripts/*.py is executed from file as a new module object, with the extension root first on
  sys.path only while it executes; its Script classes are kept in scripts_data and a ScriptRunner
  holds an instance of each (modules/scripts.py);
- app-started fires with a NEW FastAPI app each time; with --nowebui (start_api_only) no UI
  callbacks fire and app-started gets demo None;
- "Reload UI" in A1111's order (webui.py's loop): the demo is closed, the on_before_reload callbacks
  fire ("callbacks_on_reload"), then the script_unloaded ones (in reverse), load_scripts clears ALL
  callbacks and executes the scripts again (new module objects; what they import comes from
  sys.modules, which the host leaves alone), ui_settings and ui_tabs build the UI, and app-started
  fires with a new app.

The extension is copied into extensions/<some other name>/, so nothing may assume its folder name.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

STANDIN_ROOT = Path(__file__).resolve().parent / "webui"
REPO_ROOT = Path(__file__).resolve().parents[2]
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache", "*.pyc")


def install_extension(webui_root: Path, folder_name: str = "my-hot-reload-copy") -> Path:
    """Copy the repository into extensions/<folder_name>, as "Install from URL" would clone it."""
    target = webui_root / "extensions" / folder_name
    shutil.copytree(REPO_ROOT, target, ignore=COPY_IGNORE)
    return target


def built_in_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", action="store_true")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--nowebui", action="store_true")
    parser.add_argument("--log-startup", action="store_true")
    parser.add_argument("--skip-install", action="store_true")
    parser.add_argument("--loglevel", type=str, default=None)
    return parser


class StandinWebui:
    """One webui process: call preload(), then start(), then reload_ui() as often as wanted."""

    def __init__(self, webui_root: Path, extension_dirs: list[Path]) -> None:
        from modules import extensions

        self.webui_root = webui_root
        self.extension_dirs = extension_dirs
        self.app: FastAPI | None = None
        self.demo: Any = None
        self.apps_created = 0
        extensions.extensions[:] = [extensions.Extension(d.name, str(d)) for d in extension_dirs]

    # -- process start --------------------------------------------------------------------------
    def preload(self, argv: list[str]) -> argparse.Namespace:
        from modules import script_loading, shared

        parser = built_in_parser()
        script_loading.preload_extensions([str(d) for d in self.extension_dirs], parser)
        shared.cmd_opts = parser.parse_args(argv)  # strict, as the host does after preload
        return shared.cmd_opts

    def run_installer(self, extension_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **env, "PYTHONPATH": str(self.webui_root)}
        return subprocess.run([sys.executable, str(extension_dir / "install.py")], env=full_env,
                              cwd=self.webui_root, capture_output=True, text=True, timeout=120)

    def load_scripts(self) -> list[Any]:
        from modules import scripts

        modules = scripts.load_scripts(self.extension_dirs)
        scripts.scripts_txt2img.initialize_scripts()
        return modules

    def start(self, demo: Any = None) -> FastAPI:
        from modules import script_callbacks

        self.demo = demo
        self.load_scripts()
        script_callbacks.fire("ui_settings")
        self.ui_tabs = [tab for tabs in script_callbacks.fire("ui_tabs") for tab in (tabs or [])]
        return self._new_app(demo)

    def start_api_only(self) -> FastAPI:
        """`--nowebui` (A1111 webui.api_only): scripts load, no UI is built (no ui_settings, no
        ui_tabs), and app-started fires with demo None."""
        self.load_scripts()
        return self._new_app(None)

    def _new_app(self, demo: Any) -> FastAPI:
        from modules import script_callbacks

        self.app = FastAPI()
        self.apps_created += 1

        @self.app.get("/internal/ping")
        def ping() -> dict[str, str]:
            return {}

        script_callbacks.fire("app_started", demo, self.app)
        return self.app

    def reload_ui(self, demo: Any = None) -> FastAPI:
        from modules import script_callbacks

        close = getattr(self.demo, "close", None)
        if callable(close):
            close()
        script_callbacks.fire("on_reload")
        script_callbacks.fire("script_unloaded", reverse=True)
        return self.start(demo)  # load_scripts() clears the callbacks first
