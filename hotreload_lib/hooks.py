"""What a host lends the reloader, as plain callables, so the engine never imports the webui:
host.py builds them from `modules.*`; without a host (the CLI, the demo, tests) they do nothing.

- `busy()`: why changed files must wait now ("a generation is running"), or "" when they may run;
- `lift_callbacks(path)`: take away the webui callbacks that `path` registered (they are the file's,
  like its replacements) and return a token; `put_back_callbacks(token)` registers them again where
  they were (a failed run keeps its last good state);
- `script_modules()`: the modules the host executed from file and keeps outside sys.modules (its
  scripts/*.py), which a tracked tree's edits update too;
- `held_callables()`: the callables the host holds now (its app's routes' endpoints, its callback
  lists), where an update looks for closures a changed function made (a route handler that an
  `on_app_started` callback defines inside itself);
- `after_update()`: a tracked module was updated in place: forget what the host worked out from its
  classes once (which Scripts override which hook), so that a method added or removed counts;
- `rebuild_page(functions, folders)`: build again, in place, the parts of the page that the code of
  `folders` builds and that `functions` (just updated) take part in: a PageRebuild says what was
  rebuilt, and what shows only after Reload UI (a Script's ui(), a settings section);
- `path_forms(folder)`: the other paths the host knows `folder` by (an extension symlinked into
  its extensions/ folder: the link's path, which its modules' `__file__` read as);
- `asset_url(path)`: the URL the page links a stylesheet of the webui's by ("" when the host has none);
- `refresh_assets()`: make the next page load get fresh script and stylesheet tags;
- `reload_ui()`: rebuild the page now (the host's Reload UI); "" when asked, else why it cannot.
- `why_no_reload_ui()`: why the host can never rebuild its page in process ("" when it can): what
  needs Reload UI then says restart instead.
- `extension_folders()`: the folders of the webui's extensions, whose scripts its Reload UI executes
  again: the modules a tracked tree has inside them are dropped first, so they are imported afresh.
- `loads_extensions`: the host imports and runs the tracked trees' modules itself (a webui); without
  one only live files import them, so a tracked tree must be importable and a save of a file no
  module came from is worth saying.
"""
from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _never_busy() -> str:
    return ""


def _nothing_to_lift(_path: str) -> object:
    return None


def _nothing_to_put_back(_token: object) -> None:
    return None


def _no_script_modules() -> list[types.ModuleType]:
    return []


@dataclass(frozen=True)
class PageRebuild:
    """What an update meant for the page: the tabs rebuilt in place (the open pages reload to show
    them), the builders whose output shows only once the host builds its page again, notes, and the
    exception a builder raised (then nothing was put in place)."""

    rebuilt: tuple[str, ...] = ()
    ran: tuple[str, ...] = ()  # the qualified names of the updated functions that ran again with a builder
    waiting: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: BaseException | None = None
    # The elem_ids of the rebuilt parts, when open pages can re-render all of them in place (gradio 4's
    # tabs); empty: they reload. `page_build`: the number of the page's build that has them.
    rerender: tuple[str, ...] = ()
    page_build: int = 0


def _nothing_to_rebuild(_functions: list[types.FunctionType], _folders: tuple[str, ...]) -> PageRebuild:
    return PageRebuild()


def _nothing_held() -> list[Any]:
    return []


def _no_other_forms(_folder: str) -> list[str]:
    return []


def _no_asset_url(_path: str) -> str:
    return ""


def _no_assets() -> None:
    return None


def _nothing_after_update() -> None:
    return None


def _no_extensions() -> list[str]:
    return []


def _no_reload_ui() -> str:
    return "there is no webui page to rebuild here"


@dataclass(frozen=True)
class HostHooks:
    busy: Callable[[], str] = _never_busy
    lift_callbacks: Callable[[str], object] = _nothing_to_lift
    put_back_callbacks: Callable[[object], None] = _nothing_to_put_back
    script_modules: Callable[[], list[types.ModuleType]] = _no_script_modules
    held_callables: Callable[[], list[Any]] = _nothing_held
    rebuild_page: Callable[[list[types.FunctionType], tuple[str, ...]], PageRebuild] = _nothing_to_rebuild
    after_update: Callable[[], None] = _nothing_after_update
    path_forms: Callable[[str], list[str]] = _no_other_forms
    asset_url: Callable[[str], str] = _no_asset_url
    refresh_assets: Callable[[], None] = _no_assets
    reload_ui: Callable[[], str] = _no_reload_ui
    why_no_reload_ui: Callable[[], str] = _no_reload_ui
    extension_folders: Callable[[], list[str]] = _no_extensions
    loads_extensions: bool = False
