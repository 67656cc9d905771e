"""The adapter: the only module of hotreload_lib that touches the webui (`modules.*`).

Every host object is reached with getattr/.get: a flag is missing when the extension was installed
while the webui ran (preload never saw it), settings are missing before on_ui_settings, and SD.Next
differs from A1111/Forge in small ways.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from .reloader import ensure_started, get_reloader, shutdown

log = logging.getLogger("hot_reload")
SECTION = ("hot_reload", "Hot Reload")
OPT_ENABLED = "hot_reload_enabled"
OPT_POLLING = "hot_reload_polling"
POLLING_ENV = "HOT_RELOAD_POLLING"
_reported_errors: set[str] = set()
# Kept so that switching the setting on can start watching at once, without an app start.
_last_extension_root: list[str] = []


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


def on_app_started(demo: Any, app: Any, extension_root: str) -> None:
    """Start the reloader once per process; after "Reload UI", run every live file again, since the
    host re-created the script modules they may have patched."""
    _last_extension_root[:] = [extension_root]
    folder, problem = live_folder(extension_root)
    if folder is None:
        if problem not in _reported_errors:
            _reported_errors.add(problem)
            log.error("[Hot Reload] %s", problem)
        return
    previous = get_reloader()
    reloader = ensure_started(folder, force_polling=forced_polling())
    if reloader is previous:
        reloader.rerun_all()


def _on_enabled_change() -> None:
    if not option(OPT_ENABLED, True):
        shutdown()
    elif _last_extension_root:
        on_app_started(None, None, _last_extension_root[0])


def on_ui_settings(extension_root: str) -> None:
    _last_extension_root[:] = [extension_root]
    shared = _shared()
    option_info = getattr(shared, "OptionInfo", None)
    opts = getattr(shared, "opts", None)
    if option_info is None or opts is None:
        return
    opts.add_option(OPT_ENABLED, option_info(
        True, "Enable hot reload (off: stop watching and undo every live file's replacements)",
        section=SECTION, onchange=_on_enabled_change,
    ))
    opts.add_option(OPT_POLLING, option_info(
        False, "Poll the live folder instead of native file events (network drives, WSL /mnt, Docker)",
        section=SECTION,
    ))
