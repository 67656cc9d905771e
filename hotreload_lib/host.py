"""The adapter: the only module of hotreload_lib that touches the webui (`modules.*`).

Every host object is reached with getattr/.get: a flag is missing when the extension was installed
while the webui ran (preload never saw it), settings are missing before on_ui_settings, and SD.Next
differs from A1111/Forge in small ways.
"""
from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .reloader import ensure_started, get_reloader, shutdown
from .server import Feed, add_routes, process_feed
from .stream import GradioServer

log = logging.getLogger("hot_reload")
SECTION = ("hot_reload", "Hot Reload")
SETTINGS_CATEGORY = "system"
OPT_ENABLED = "hot_reload_enabled"
OPT_POLLING = "hot_reload_polling"
# Read by javascript/hot_reload.js from window.opts.
OPT_SUCCESS_TOASTS = "hot_reload_success_toasts"
OPT_TOAST_SECONDS = "hot_reload_toast_seconds"
POLLING_ENV = "HOT_RELOAD_POLLING"
TAB = ("Hot Reload", "hot_reload")
_reported_errors: set[str] = set()
# Why the live folder cannot be watched (shown on the page), empty when it can.
_folder_problem: list[str] = [""]
# Kept so that switching the setting on can start watching at once, without an app start.
_last_extension_root: list[str] = []


def _ensure_console_log() -> None:
    """A1111 and Forge configure logging only with --loglevel; otherwise the root logger has no
    handler and drops INFO, and "watching ..." and every "reloaded ..." line would never show in
    the console. Then our logger prints by itself; with a configured root, it follows the user's."""
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()  # stderr, where Python prints an unconfigured warning too
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _shared() -> Any:
    from modules import shared

    return shared


def option(key: str, default: Any) -> Any:
    return getattr(getattr(_shared(), "opts", None), key, default)


def live_folder(extension_root: str) -> tuple[Path | None, str]:
    """The folder to watch and, when it cannot be used, why."""
    flag = getattr(getattr(_shared(), "cmd_opts", None), "hot_reload_dir", None)
    if not flag:
        return Path(extension_root, "playground").resolve(), ""
    folder = Path(os.path.expanduser(flag)).resolve()
    if not folder.exists():
        return None, f"--hot-reload-dir {flag}: {folder} does not exist; hot reload is off"
    if not folder.is_dir():
        return None, f"--hot-reload-dir {flag}: {folder} is not a folder; hot reload is off"
    return folder, ""


def forced_polling() -> str:
    if os.environ.get(POLLING_ENV, "") not in ("", "0"):
        return f"forced by {POLLING_ENV}"
    if option(OPT_POLLING, False):
        return "forced by the setting"
    return ""


def feed() -> Feed:
    return process_feed(problem=lambda: _folder_problem[0])


def _sdnext_route_registrar() -> Callable[..., Any] | None:
    """SD.Next's `shared.api.add_api_route(path, fn, auth=True)`: it adds the route under the
    webui's subpath too, and its API auth. A1111 and Forge have no such registrar."""
    add = getattr(getattr(_shared(), "api", None), "add_api_route", None)
    try:
        takes_auth = add is not None and "auth" in inspect.signature(add).parameters
    except (TypeError, ValueError):
        takes_auth = False
    if not takes_auth:
        return None

    def register(path: str, endpoint: Callable[..., Any], **kwargs: Any) -> Any:
        return add(path, endpoint, auth=True, **kwargs)

    return register


def add_page_routes(demo: Any, app: Any) -> None:
    """The page's event stream and status, on each new app (each "Reload UI" makes one)."""
    server = GradioServer(demo) if demo is not None else None
    add_routes(app, feed(), server=server, add_route=_sdnext_route_registrar())


def start_watching(extension_root: str) -> None:
    """Start the reloader once per process; when it runs already ("Reload UI"), run every live file
    again, since the host re-created the script modules they may have patched."""
    folder, problem = live_folder(extension_root)
    _folder_problem[0] = problem
    if folder is None:
        if problem not in _reported_errors:
            _reported_errors.add(problem)
            log.error("[Hot Reload] %s", problem)
        return
    previous = get_reloader()
    reloader = ensure_started(folder, force_polling=forced_polling())
    if reloader is previous:
        reloader.rerun_all()


def on_app_started(demo: Any, app: Any, extension_root: str) -> None:
    """Called only while enabled (the entry returns at once otherwise)."""
    if app is not None:
        add_page_routes(demo, app)
    start_watching(extension_root)


def on_ui_tabs() -> list[tuple[Any, str, str]]:
    """The "Hot Reload" tab (the entry asks only while hot reload is enabled)."""
    from .ui import build_panel

    return [(build_panel(feed()), *TAB)]


def _on_enabled_change() -> None:
    # Switched on, watching starts at once; the page's routes and the tab come with the next
    # app start ("Reload UI"), since a disabled extension's callbacks return at once.
    if not option(OPT_ENABLED, True):
        shutdown()
    elif _last_extension_root:
        start_watching(_last_extension_root[0])


def _on_polling_change() -> None:
    if option(OPT_ENABLED, True) and _last_extension_root:
        start_watching(_last_extension_root[0])  # a new watch mode means a new reloader


def on_ui_settings(extension_root: str) -> None:
    import gradio as gr

    _ensure_console_log()
    _last_extension_root[:] = [extension_root]
    shared = _shared()
    option_info = getattr(shared, "OptionInfo", None)
    opts = getattr(shared, "opts", None)
    if option_info is None or opts is None:
        return
    settings = {
        OPT_ENABLED: option_info(
            True, "Enable hot reload (off: stop watching and undo every live file's replacements)",
            section=SECTION, onchange=_on_enabled_change,
        ),
        OPT_POLLING: option_info(
            False, "Poll the live folder instead of native file events (network drives, WSL /mnt, Docker)",
            section=SECTION, onchange=_on_polling_change,
        ),
        OPT_SUCCESS_TOASTS: option_info(
            True, "Show success toasts (errors are always shown, until dismissed)", section=SECTION,
        ),
        OPT_TOAST_SECONDS: option_info(
            6, "Toast duration (s)", gr.Slider, {"minimum": 1, "maximum": 60, "step": 1}, section=SECTION,
        ),
    }
    for key, info in settings.items():
        # A1111 1.7+ and Forge list sections under categories; without one ours sit under
        # "Uncategorized". Set as an attribute: older hosts' OptionInfo takes no such argument.
        info.category_id = SETTINGS_CATEGORY
        opts.add_option(key, info)
