"""What a host lends the reloader, as plain callables, so the engine never imports the webui:
host.py builds them from `modules.*`; without a host (the CLI, the demo, tests) they do nothing.

- `busy()`: why changed files must wait now ("a generation is running"), or "" when they may run;
- `lift_callbacks(path)`: take away the webui callbacks that `path` registered (they are the file's,
  like its replacements) and return a token; `put_back_callbacks(token)` registers them again where
  they were (a failed run keeps its last good state);
- `script_modules()`: the modules the host executed from file and keeps outside sys.modules (its
  scripts/*.py), which a tracked tree's edits update too;
- `page_builders(functions)`: the names of those of `functions` that build the page (an on_ui_tabs
  callback, a Script's ui()): what they change shows only after Reload UI;
- `path_forms(folder)`: the other paths the host knows `folder` by (an extension symlinked into
  its extensions/ folder: the link's path, which its modules' `__file__` read as);
- `asset_url(path)`: the URL the page links a stylesheet of the webui's by ("" when the host has none);
- `refresh_assets()`: make the next page load get fresh script and stylesheet tags;
- `reload_ui()`: rebuild the page now (the host's Reload UI); "" when asked, else why it cannot.
- `why_no_reload_ui()`: why the host can never rebuild its page in process ("" when it can): what
  needs Reload UI then says restart instead.
- `loads_extensions`: the host imports and runs the tracked trees' modules itself (a webui); without
  one only live files import them, so a tracked tree must be importable and a save of a file no
  module came from is worth saying.
"""
from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass


def _never_busy() -> str:
    return ""


def _nothing_to_lift(_path: str) -> object:
    return None


def _nothing_to_put_back(_token: object) -> None:
    return None


def _no_script_modules() -> list[types.ModuleType]:
    return []


def _no_page_builders(_functions: list[types.FunctionType]) -> list[str]:
    return []


def _no_other_forms(_folder: str) -> list[str]:
    return []


def _no_asset_url(_path: str) -> str:
    return ""


def _no_assets() -> None:
    return None


def _no_reload_ui() -> str:
    return "there is no webui page to rebuild here"


@dataclass(frozen=True)
class HostHooks:
    busy: Callable[[], str] = _never_busy
    lift_callbacks: Callable[[str], object] = _nothing_to_lift
    put_back_callbacks: Callable[[object], None] = _nothing_to_put_back
    script_modules: Callable[[], list[types.ModuleType]] = _no_script_modules
    page_builders: Callable[[list[types.FunctionType]], list[str]] = _no_page_builders
    path_forms: Callable[[str], list[str]] = _no_other_forms
    asset_url: Callable[[str], str] = _no_asset_url
    refresh_assets: Callable[[], None] = _no_assets
    reload_ui: Callable[[], str] = _no_reload_ui
    why_no_reload_ui: Callable[[], str] = _no_reload_ui
    loads_extensions: bool = False
