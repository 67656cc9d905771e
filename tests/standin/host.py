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
  fires with a new app;
- serve() builds the page as A1111's create_ui does (modules/ui.py: on_ui_tabs tabs rendered into
  TabItems, ui-config.json), keeps it as shared.demo, and serves it with gradio on 127.0.0.1; the
  page's head gets a script.js that runs onUiLoaded, then every extension's javascript/*.js.

The extension is copied into extensions/<some other name>/, so nothing may assume its folder name.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

STANDIN_ROOT = Path(__file__).resolve().parent / "webui"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The tools' caches too: another test run in the same clone (CI runs the environments side by side)
# writes them while this one copies the clone.
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache", "*.pyc", ".hypothesis")


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

    def serve(self) -> str:
        """Start as the webui does with its page: scripts, settings, create_ui, launch, routes, app-started.
        Returns the page's URL."""
        from modules import script_callbacks, shared, ui

        try:
            asyncio.get_event_loop()
        except RuntimeError:  # an asyncio.run() on this thread before: the webui's main thread has a loop,
            asyncio.set_event_loop(asyncio.new_event_loop())  # in which gradio 4 makes its queue's locks
        self.load_scripts()
        script_callbacks.fire("ui_settings")
        demo = shared.demo = ui.create_ui()
        demo.queue()
        app, _local, _share = demo.launch(server_name="127.0.0.1", server_port=self._port(), prevent_thread_lock=True,
                                          quiet=True, allowed_paths=[str(self.webui_root)])
        self._link_page_assets(app)
        self.app = app
        self.apps_created += 1

        @app.get("/internal/ping")
        def ping() -> dict[str, str]:
            return {}

        script_callbacks.fire("app_started", demo, app)
        return f"http://127.0.0.1:{self.port}/"

    def _port(self) -> int:
        if not getattr(self, "port", None):
            from hotreload_lib.demo import free_port  # the extension's package, loaded by its entry by now

            self.port = free_port()
        return self.port

    def _link_page_assets(self, app: Any) -> None:
        """The host's script.js and every extension's javascript/*.js in the head, style.css before
        </body>, as the webui injects them into gradio's page. The template plumbing is borrowed from
        the extension's demo, which plays the same part."""
        from hotreload_lib.demo import add_asset_routes, install_page_tags, webpath

        extension_dirs = self.extension_dirs

        class Assets:
            @staticmethod
            def asset_urls() -> tuple[list[str], list[str]]:
                scripts = [webpath(str(path)) for folder in extension_dirs
                           for path in sorted((folder / "javascript").glob("*.js"))
                           if path.name != "hot_reload.js"]  # ours is in the demo's own tags
                styles = [webpath(str(folder / "style.css")) for folder in extension_dirs
                          if (folder / "style.css").is_file() and folder.name != self.ours_name]
                return scripts, styles

        install_page_tags()
        add_asset_routes(app)
        app.state.hot_reload_demo_webui = Assets()

    @property
    def ours_name(self) -> str:
        return getattr(self, "ours", Path()).name

    def serve_again(self) -> str:
        """Reload UI, served: the server closes and a new page is built and served on the same port."""
        from modules import script_callbacks, shared

        shared.demo.close()
        script_callbacks.fire("on_reload")
        script_callbacks.fire("script_unloaded", reverse=True)
        return self.serve()  # load_scripts() clears the callbacks first

    def reload_ui(self, demo: Any = None) -> FastAPI:
        from modules import script_callbacks

        close = getattr(self.demo, "close", None)
        if callable(close):
            close()
        script_callbacks.fire("on_reload")
        script_callbacks.fire("script_unloaded", reverse=True)
        return self.start(demo)  # load_scripts() clears the callbacks first
