"""The adapter: the only module of hotreload_lib that touches the webui (`modules.*`).

Every host object is reached with getattr/.get: a flag is missing when the extension was installed
while the webui ran (preload never saw it), settings are missing before on_ui_settings, and SD.Next
differs from A1111/Forge in small ways.
"""
from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import sys
import types
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .hooks import HostHooks, PageRebuild
from .page.pagesplice import (
    PAGE_VERSION_KEY,
    add,
    extend_load,
    find_block,
    inputs_within,
    next_page_build,
    no_apps_made,
    recompute,
    splice,
)
from .page.rerender import prepare, renderer_of
from .page.server import Feed, add_routes, process_feed
from .page.stream import GradioServer, MainThreadServer
from .reloader import ensure_started, get_reloader, shutdown
from .update.reach import reaches

log = logging.getLogger("hot_reload")
SECTION = ("hot_reload", "Hot Reload")
SETTINGS_CATEGORY = "system"
OPT_ENABLED = "hot_reload_enabled"
OPT_POLLING = "hot_reload_polling"
OPT_WAIT_FOR_GENERATION = "hot_reload_wait_for_generation"
OPT_FOLDER = "hot_reload_folder"
OPT_TRACKED = "hot_reload_tracked_extensions"
DEFAULT_FOLDER_NAME = "hot-reload"
EXAMPLE_LIVE_FILE = '''"""An example live file: nothing in it runs until you uncomment it.

Every .py file in this folder runs inside the webui, again each time it is saved (this folder:
--hot-reload-dir, or the setting Settings -> Hot Reload, or else <webui data folder>/hot-reload).
replace() swaps a webui function for yours everywhere it is referenced; the original is back
when the file runs again without that replace(), or is deleted. Uncomment the lines below, save,
and generate an image: its infotext ends with ", Tweaked: yes". Comment them out and save: back
to normal, no restart.
"""
# from hotreload_lib import original, replace
# from modules import processing
#
#
# def create_infotext(p, *args, **kwargs):
#     text = original(processing.create_infotext)(p, *args, **kwargs)  # the webui's own version
#     return text + ", Tweaked: yes"
#
#
# replace(processing, "create_infotext", create_infotext)
'''
# Read by javascript/hot_reload.js from window.opts.
OPT_SUCCESS_TOASTS = "hot_reload_success_toasts"
OPT_TOAST_SECONDS = "hot_reload_toast_seconds"
OPT_EDITOR_LINK = "hot_reload_editor_link"
POLLING_ENV = "HOT_RELOAD_POLLING"
FIRST_PASS_WAIT = 2.0  # s at most that app-started waits for the first run of the live files
TAB = ("Hot Reload", "hot_reload")
_reported_errors: set[str] = set()
# Why the live folder cannot be watched (shown on the page), empty when it can.
_folder_problem: list[str] = [""]
# The app the webui serves now, weakly: Reload UI makes a new one, which must not keep the old alive.
_app: list[weakref.ref[Any] | None] = [None]


def _ensure_console_log() -> None:
    """Make "watching ..." and every "reloaded ..." line show in the webui's console, in the form the
    host prints its own, unless the user chose a log level (--loglevel): then ours follows it.

    Otherwise an INFO line of ours would be dropped on every host: A1111 and Forge leave the root
    logger without a handler, or (a normal start, which runs extension installers) with one that
    logging.debug() made at WARNING; SD.Next points the root at a NullHandler at ERROR and prints
    through its own logger (`shared.log`), as it has its bundled extensions do. Ours then uses the
    host's logger's handlers when it has one, else a handler of its own on stderr."""
    shared = _shared()
    if log.handlers or getattr(getattr(shared, "cmd_opts", None), "loglevel", None):
        return
    host_log = getattr(shared, "log", None)
    if isinstance(host_log, logging.Logger) and host_log.handlers:
        log.handlers = list(host_log.handlers)
    else:
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


def live_folder() -> tuple[Path | None, str]:
    """The folder to watch and, when it cannot be used, why: --hot-reload-dir, else the setting,
    else DEFAULT_FOLDER_NAME in the webui's data folder (made on first use, with a commented
    example that changes nothing). Never inside this extension: the webui's extension updater
    resets its checkout, and a fresh install must patch nothing."""
    flag = getattr(getattr(_shared(), "cmd_opts", None), "hot_reload_dir", None)
    chosen, source = (flag, "--hot-reload-dir") if flag else (option(OPT_FOLDER, "") or "", "the live folder setting")
    if not chosen.strip():
        return _default_folder()
    folder = Path(os.path.expanduser(chosen.strip())).resolve()
    if not folder.exists():
        return None, f"{source} {chosen}: {folder} does not exist; hot reload is off"
    if not folder.is_dir():
        return None, f"{source} {chosen}: {folder} is not a folder; hot reload is off"
    return folder, ""


def _default_folder() -> tuple[Path | None, str]:
    data_path = getattr(_shared(), "data_path", None)
    if not data_path:
        return None, "the webui names no data folder: start it with --hot-reload-dir DIR; hot reload is off"
    folder = Path(data_path, DEFAULT_FOLDER_NAME).resolve()
    try:
        if not folder.exists():
            folder.mkdir(parents=True)
            (folder / "example.py").write_text(EXAMPLE_LIVE_FILE, encoding="utf-8")
            log.info("[Hot Reload] made the live folder %s, with a commented example.py", folder)
    except OSError as error:
        return None, f"cannot make the live folder {folder}: {error}; hot reload is off"
    return folder, ""


def forced_polling() -> str:
    if os.environ.get(POLLING_ENV, "") not in ("", "0"):
        return f"forced by {POLLING_ENV}"
    if option(OPT_POLLING, False):
        return "forced by the setting"
    return ""


def generation_running() -> str:
    """Why changed files must wait: a generation runs or is queued (HOST_CONTRACT.md §9), or ""."""
    if not option(OPT_WAIT_FOR_GENERATION, True):
        return ""
    state = getattr(_shared(), "state", None)
    if _sdnext_route_registrar() is not None:
        return "a generation is running" if getattr(state, "job", "") else ""
    from modules import progress

    if getattr(state, "job_count", 0) != 0 or getattr(progress, "current_task", None) is not None:
        return "a generation is running"
    return "a generation is queued" if getattr(progress, "pending_tasks", None) else ""


CallbackPlace = tuple[list[Any], int, Any]


def lift_callbacks(path: str) -> list[CallbackPlace]:
    """Take the webui callbacks that the file `path` registered out of the host's lists (the host
    records the registering file with each callback: A1111/Forge/SD.Next `ScriptCallback.script`;
    A1111 also caches sorted copies, which must lose them too). Returns where each one was."""
    from modules import script_callbacks

    lists = [*getattr(script_callbacks, "callback_map", {}).values(),
             *getattr(script_callbacks, "ordered_callbacks_map", {}).values()]
    lifted: list[CallbackPlace] = []
    for entries in lists:
        for index in range(len(entries) - 1, -1, -1):
            if getattr(entries[index], "script", None) == path:
                lifted.append((entries, index, entries.pop(index)))
    lifted.reverse()
    return lifted


def put_back_callbacks(lifted: object) -> None:
    """Register lifted callbacks again where they were (in list order, so the indexes hold)."""
    for entries, index, entry in lifted if isinstance(lifted, list) else []:
        entries.insert(min(index, len(entries)), entry)


def script_modules() -> list[types.ModuleType]:
    """The modules the host executed from scripts/*.py files, which it keeps outside sys.modules
    (HOST_CONTRACT.md §3, §12): the last one loaded per path, and those its Script classes came from."""
    found: dict[int, types.ModuleType] = {}
    script_loading = sys.modules.get("modules.script_loading")
    for module in dict(getattr(script_loading, "loaded_scripts", None) or {}).values():
        found[id(module)] = module
    scripts = sys.modules.get("modules.scripts")
    for name in ("scripts_data", "postprocessing_scripts_data"):
        for data in list(getattr(scripts, name, None) or []):
            module = getattr(data, "module", None)
            if isinstance(module, types.ModuleType):
                found[id(module)] = module
    return [module for module in found.values() if isinstance(module, types.ModuleType)]


def held_callables() -> list[Any]:
    """The callables the webui holds now: the endpoints of its app's routes (an extension's, added
    in its on_app_started callback, too) and the callbacks in script_callbacks' lists."""
    app = _app[0]() if _app[0] is not None else None
    held = [getattr(route, "endpoint", None) for route in list(getattr(app, "routes", None) or [])]
    script_callbacks = sys.modules.get("modules.script_callbacks")
    for entries in list((getattr(script_callbacks, "callback_map", None) or {}).values()):
        held += [getattr(entry, "callback", None) for entry in list(entries)]
    return [callback for callback in held if callback is not None]


def rebuild_page(functions: list[types.FunctionType], folders: tuple[str, ...]) -> PageRebuild:
    """Build again, in place, what the code in `folders` (a tracked extension) builds of the page and
    the updated `functions` take part in (the builder itself, or code it calls: reach.py):

    - an on_ui_tabs tab: that callback alone runs again, and each tab it returns takes the place of its
      TabItem's content in the running page (pagesplice.py);
    - a Script's ui(): run again for each instance the txt2img/img2img runners hold, in its group; the
      new controls take the old ones' places in the runner's inputs, so in the Generate button's inputs
      and in every script's args_from/args_to, and the next generation passes their values;
    - an on_ui_settings callback: run again; a new option gets its component at the end of its section
      in Settings (and of the Apply button's inputs), an option whose label or default changed shows
      them; what cannot be placed (a new section or tab, a changed component, a script built without a
      group) waits for Reload UI."""
    within = tuple(os.path.join(folder, "") for folder in folders)
    builders = []  # each builder with the updated functions it takes part in
    for kind, function, name, owner in _page_builders():
        touched = [updated for updated in functions if reaches(function, {id(updated)}, within)]
        if touched:
            builders.append((kind, function, name, owner, touched))
    demo = getattr(_shared(), "demo", None)
    if demo is None or getattr(getattr(_shared(), "cmd_opts", None), "nowebui", False):
        return PageRebuild(waiting=tuple(name for _kind, _function, name, _owner, _touched in builders))
    rebuild = PageRebuild()
    in_place: list[str] | None = []  # None once a part is rebuilt that open pages cannot re-render
    for kind, function, name, owner, touched in builders:
        try:
            if kind == "callbacks_ui_tabs":
                done = _rebuild_tabs(demo, function)
            elif kind == "script_ui":
                done = _rebuild_script_ui(demo, owner)
            else:
                done = _rebuild_settings(demo, function)
        except BaseException as error:  # noqa: BLE001 - the extension's code or gradio refused; splice undid it
            return dataclasses.replace(rebuild, error=error)
        if done is None:
            rebuild = dataclasses.replace(rebuild, waiting=(*rebuild.waiting, name))
        else:
            rebuilt, notes, rerendered = done
            in_place = None if in_place is None or rerendered is None else [*in_place, *rerendered]
            rebuild = dataclasses.replace(rebuild, rebuilt=(*rebuild.rebuilt, *rebuilt),
                                          ran=(*rebuild.ran, *(f"{updated.__module__}.{updated.__qualname__}"
                                                               for updated in touched)),
                                          notes=(*rebuild.notes, *notes))
    if rebuild.rebuilt and in_place and not _has_page_scripts(folders):
        config = getattr(demo, "config", None)
        rebuild = dataclasses.replace(rebuild, rerender=tuple(in_place), page_build=int(
            config.get(PAGE_VERSION_KEY, 0) if isinstance(config, dict) else 0))
    return rebuild


def _has_page_scripts(folders: tuple[str, ...]) -> bool:
    """The extension has JavaScript the page ran at its load (the hosts add every javascript/*.js and
    *.mjs of an extension): it may hold the old tab's elements, so the page reloads to run it again."""
    return any(path.suffix in (".js", ".mjs") for folder in folders
               for path in Path(folder, "javascript").glob("*") if path.is_file())


def forget_script_hook_order() -> None:
    """A1111/Forge cache, per Script hook (before_process, process, ...), the always-on scripts whose
    class overrides it, and work it out again only when the number of scripts changes: a hook method
    added by an update would never run. The runners work it out again at their next generation."""
    scripts = sys.modules.get("modules.scripts")
    for runner in (getattr(scripts, "scripts_txt2img", None), getattr(scripts, "scripts_img2img", None)):
        cached = getattr(runner, "callback_map", None)
        if isinstance(cached, dict):
            cached.clear()


def _page_builders() -> list[tuple[str, Any, str, Any]]:
    """(kind, function, name, its Script class or None) of what builds the page: on_ui_tabs and
    on_ui_settings callbacks, and the ui() of Script classes."""
    builders: list[tuple[str, Any, str, Any]] = []
    script_callbacks = sys.modules.get("modules.script_callbacks")
    callback_map = getattr(script_callbacks, "callback_map", None) or {}
    for kind in ("callbacks_ui_tabs", "callbacks_ui_settings"):
        for entry in list(callback_map.get(kind, [])):
            callback = getattr(entry, "callback", None)
            if callable(callback):
                builders.append((kind, callback, getattr(callback, "__qualname__", "a page callback"), None))
    scripts = sys.modules.get("modules.scripts")
    for data in [*list(getattr(scripts, "scripts_data", None) or []),
                 *list(getattr(scripts, "postprocessing_scripts_data", None) or [])]:
        klass = getattr(data, "script_class", None)
        ui = vars(klass).get("ui") if isinstance(klass, type) else None
        if ui is not None:
            builders.append(("script_ui", ui, f"{klass.__qualname__}.ui", klass))
    return builders


Rebuilt = tuple[list[str], list[str], "list[str] | None"]  # what, notes, the elem_ids pages re-render in place


def _rebuild_tabs(demo: Any, callback: Any) -> Rebuilt | None:
    """The tabs `callback` returns, each in place of its TabItem's content; None when one of them is
    not on the page (a new tab, or one hidden in Settings: only the host adds tabs). On gradio 4 the
    open pages re-render them in place (page/rerender.py); without a re-render event, they reload."""
    with no_apps_made():
        returned = list(callback() or [])
    tabs = [(interface, label, ifid, find_block(demo, f"tab_{ifid}")) for interface, label, ifid in returned]
    if not tabs or any(tab is None for *_rest, tab in tabs):
        return None
    notes: list[str] = []
    in_place: list[str] | None = []
    page_build = next_page_build()
    for interface, label, ifid, tab in tabs:
        renderer = renderer_of(demo, tab)
        splice(demo, tab, interface.render, label=label, rendered_in=renderer, page_build=page_build)
        in_place = None if in_place is None or renderer is None else [*in_place, tab.elem_id]
        notes.extend(_pinned_defaults(interface.blocks.values(), ifid))
    return [f"tab {label!r}" for _interface, label, _ifid, _tab in tabs], notes, in_place


def _rebuild_script_ui(demo: Any, klass: type) -> Rebuilt | None:
    """Each instance of the Script class `klass` in the txt2img and img2img runners, its ui() built
    again in its group (A1111/Forge ScriptRunner.create_script_ui); None when one cannot be placed:
    no group, or no controls before (then nothing in the Generate button's inputs marks its place)."""
    scripts = sys.modules.get("modules.scripts")
    places = []
    for tab in ("txt2img", "img2img"):
        runner = getattr(scripts, f"scripts_{tab}", None)
        for script in [script for script in list(getattr(runner, "scripts", None) or []) if type(script) is klass]:
            group = getattr(script, "group", None)
            start, end = getattr(script, "args_from", None), getattr(script, "args_to", None)
            if group is None or getattr(group, "_id", None) not in demo.blocks or start is None or end is None:
                return None
            old, held = _script_controls(demo, runner, script, group, start, end)
            if not old:
                return None
            places.append((tab, runner, script, group, old, held, start, end))
    if not places:
        return None
    notes: list[str] = []
    for tab, runner, script, group, old, held, start, end in places:
        source = os.path.basename(str(getattr(script, "filename", "") or ""))

        def build(script: Any = script, source: str = source) -> list[Any]:
            controls = list(script.ui(script.is_img2img) or [])
            for control in controls:
                control.custom_script_source = source  # as the host sets it: ui-config.json keys use it
            return controls

        new = splice(demo, group, build, replacing=old)
        if held:
            runner.inputs[start:end] = new
            script.controls = new
        for other in list(runner.scripts):
            if other is not script and isinstance(getattr(other, "args_from", None), int) and other.args_from >= end:
                other.args_from += len(new) - len(old)
                other.args_to += len(new) - len(old)
        script.args_to = start + len(new)
        notes.extend(_pinned_defaults(new, f"customscript/{source}/{tab}"))
    return [f"{klass.__qualname__}.ui in {', '.join(dict.fromkeys(tab for tab, *_rest in places))}"], notes, None


def _script_controls(demo: Any, runner: Any, script: Any, group: Any, start: int, end: int) -> tuple[list[Any], bool]:
    """The controls a Script's ui() made, and whether the runner holds them. A1111/Forge keep them as
    `script.controls` and in the runner's `inputs[args_from:args_to]`. SD.Next keeps neither
    (modules/scripts_manager.py ScriptRunner.setup_ui: its `inputs` list is its own, returned for the
    Generate button's inputs, and `self.inputs` stays `[None]`): there they are the components inside
    the script's group that the Generate button takes, `args_to - args_from` of them."""
    controls = list(getattr(script, "controls", None) or [])
    inputs = getattr(runner, "inputs", None)
    if controls and isinstance(inputs, list) and inputs[start:end] == controls:
        return controls, True
    return inputs_within(demo, group, end - start) or [], False


def _rebuild_settings(demo: Any, callback: Any) -> Rebuilt | None:
    """Run an on_ui_settings callback again, and show what it registers now on the Settings page
    (A1111/Forge ui_settings: one component per option, `setting_<key>`, in the column of its section,
    `column_settings_<section id>`, all of them the inputs of "Apply settings", whose handler zips them
    with the option keys in registration order: a new option goes last in both). None, and the options
    as they were, when the page cannot show it without being built again."""
    shared = _shared()
    opts = getattr(shared, "opts", None)
    labels = getattr(opts, "data_labels", None)
    data = getattr(opts, "data", None)
    components = getattr(shared, "settings_components", None)
    create = getattr(sys.modules.get("modules.ui_settings"), "create_setting_component", None)
    if not isinstance(labels, dict) or not isinstance(data, dict) or not isinstance(components, dict) or not callable(
            create):
        return None
    before = dict(labels)
    try:
        callback()
    except BaseException:
        labels.clear()
        labels.update(before)
        raise
    fresh = [key for key, info in labels.items() if before.get(key) is not info]
    added = [key for key in fresh if key not in before]
    shown = [key for key in fresh if key in before and key in components]
    columns = {key: find_block(demo, f"column_settings_{(getattr(labels[key], 'section', None) or ('',))[0]}")
               for key in added}
    if any(column is None for column in columns.values()) or any(
            _setting_shape(before[key]) != _setting_shape(labels[key]) for key in shown):
        labels.clear()
        labels.update(before)
        return None
    described: list[str] = []
    for key in shown:
        old, new, component = before[key], labels[key], components[key]
        if old.label != new.label:
            component.label = new.label
            described.append(f"setting {key} (label)")
        if old.default != new.default and data.get(key) == old.default:
            data[key] = component.value = new.default  # the user had left it alone: the new default
            described.append(f"setting {key} (default)")
    refresh = getattr(sys.modules.get("modules.ui_settings"), "get_value_for_setting", None)
    for key, column in columns.items():
        shown_before = next(iter(components.values()), None)
        made = add(demo, column, lambda key=key: [create(key)], to_inputs_of="settings_submit")
        components[key] = made[0]
        if callable(refresh) and shown_before is not None:
            # Each page load refreshes every setting's component (the host's demo.load): this one too.
            extend_load(demo, shown_before, made, lambda key=key: [refresh(key)])
        described.append(f"setting {key} (new)")
    if described:
        recompute(demo)
    return described, [], None


def _setting_shape(info: Any) -> tuple[Any, ...]:
    """What the component of an option is made from, beside its label and default (a change of these
    means another component: only the host's next build makes it)."""
    args = getattr(info, "component_args", None)
    return (getattr(info, "component", None), None if callable(args) else repr(args),
            tuple(getattr(info, "section", None) or ()))


def _pinned_defaults(components: Any, path: str) -> list[str]:
    """The host's ui-config.json keeps each input's value from the first UI build, keyed by its tab
    and label (A1111/Forge ui_loadsave), and gives it back at every later build: a default changed in
    code shows now, but not after the next restart. Say which."""
    saved = getattr(getattr(getattr(_shared(), "demo", None), "ui_loadsave", None), "ui_settings", None)
    if not isinstance(saved, dict):
        return []
    notes = []
    for block in list(components):
        key = f"{path}/{getattr(block, 'label', None)}/value"
        value = getattr(block, "value", None)
        # gradio 4 holds an empty Textbox as None where ui-config.json has "": no default changed.
        unchanged = saved.get(key) == value or (saved.get(key) in (None, "") and value in (None, ""))
        if getattr(block, "label", None) is None or key not in saved or callable(value) or unchanged:
            continue
        notes.append(f"ui-config.json keeps {key} = {saved[key]!r} from an earlier build: this page shows the new "
                     f"default {value!r}, the next restart the old one (delete that line to take the new default)")
    return notes


def _page_assets_module() -> Any:
    """A1111/Forge keep the page's script and stylesheet tags in modules.ui_gradio_extensions,
    SD.Next in modules.ui_javascript; both have webpath() and reload_javascript()."""
    for name in ("modules.ui_gradio_extensions", "modules.ui_javascript"):
        module = sys.modules.get(name)
        if module is not None:
            return module
    return None


def asset_url(path: str) -> str:
    webpath = getattr(_page_assets_module(), "webpath", None)
    try:
        return str(webpath(_as_the_host_lists_it(path))) if callable(webpath) else ""
    except OSError:
        return ""


def _as_the_host_lists_it(path: str) -> str:
    """`path` spelt through the extension folder that holds it, as the host lists the extension's
    files for its page: for an extension symlinked into extensions/, the link's path, not the real
    one (the page would link another URL than the one the toast names)."""
    real = Path(path).resolve()
    for root in _extension_paths():
        try:
            inside = real.relative_to(Path(root).resolve())
        except ValueError:
            continue
        return str(Path(os.path.abspath(root)) / inside)
    return path


def refresh_assets() -> None:
    reload_javascript = getattr(_page_assets_module(), "reload_javascript", None)
    if callable(reload_javascript):
        reload_javascript()


def why_no_reload_ui() -> str:
    """Why this webui cannot rebuild its page in process; "" when it can."""
    shared = _shared()
    if getattr(getattr(shared, "cmd_opts", None), "nowebui", False):
        return "the webui runs API-only (--nowebui): there is no page to rebuild"
    if _sdnext_route_registrar() is not None:
        return "SD.Next rebuilds its page only by restarting the server (System → Restart)"
    if not callable(getattr(getattr(shared, "state", None), "request_restart", None)):
        return "this webui has no Reload UI to call: use its Settings → Reload UI"
    return ""


def reload_ui() -> str:
    """The host's Reload UI (A1111/Forge: Settings' button asks shared.state for a "restart" of the
    UI, which the main loop carries out). The reloader calls it only while no generation runs: it
    would interrupt one."""
    why_not = why_no_reload_ui()
    if not why_not:
        _shared().state.request_restart()
    return why_not


def hooks() -> HostHooks:
    return HostHooks(busy=generation_running, lift_callbacks=lift_callbacks, put_back_callbacks=put_back_callbacks,
                     script_modules=script_modules, rebuild_page=rebuild_page, path_forms=path_forms,
                     asset_url=asset_url, refresh_assets=refresh_assets, reload_ui=reload_ui,
                     why_no_reload_ui=why_no_reload_ui, held_callables=held_callables,
                     extension_folders=_extension_paths, loads_extensions=True,
                     after_update=forget_script_hook_order)


def tracked_folders() -> tuple[list[Path], list[str]]:
    """The trees to track, and what was asked for that cannot be: --hot-reload-track folders and
    the extensions chosen in the setting, by their folder names in the host's extension list."""
    folders: list[Path] = []
    problems: list[str] = []
    for flag in _track_flags():
        folder = Path(os.path.expanduser(flag)).resolve()
        if folder.is_dir():
            folders.append(folder)
        else:
            problems.append(f"--hot-reload-track {flag}: {folder} is not a folder; not tracked")
    chosen = option(OPT_TRACKED, []) or []
    installed = installed_extensions()
    for name in chosen if isinstance(chosen, list) else []:
        if name in installed:
            folders.append(installed[name])
        else:
            problems.append(f"the extension {name!r} chosen in Settings → Hot Reload is not installed; not tracked")
    return list(dict.fromkeys(folders)), problems


def _track_flags() -> list[str]:
    return list(getattr(getattr(_shared(), "cmd_opts", None), "hot_reload_track", None) or [])


def path_forms(folder: str) -> list[str]:
    """The paths, other than `folder` itself, by which the host reaches it: an extension (or a
    --hot-reload-track folder) that is a symlink to it. The host executes its scripts, and its
    modules are imported, by those paths."""
    forms = []
    for path in [*_extension_paths(), *(os.path.expanduser(flag) for flag in _track_flags())]:
        form = os.path.abspath(path)
        if form != folder and Path(form).resolve() == Path(folder):
            forms.append(form)
    return list(dict.fromkeys(forms))


def _extension_paths() -> list[str]:
    extensions = sys.modules.get("modules.extensions")
    return [str(path) for path in (getattr(extension, "path", None) for extension in
                                   list(getattr(extensions, "extensions", None) or [])) if path]


def installed_extensions() -> dict[str, Path]:
    """Folder name -> path of the host's extensions (not its built-in ones)."""
    extensions = sys.modules.get("modules.extensions")
    found = {}
    for extension in list(getattr(extensions, "extensions", None) or []):
        name, path = getattr(extension, "name", None), getattr(extension, "path", None)
        if name and path and not getattr(extension, "is_builtin", False):
            found[str(name)] = Path(path).resolve()
    return found


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
    server = GradioServer(demo) if demo is not None else MainThreadServer()
    add_routes(app, feed(), server=server, add_route=_sdnext_route_registrar())


def start_watching() -> None:
    """Start the reloader once per process; when it runs already ("Reload UI"), run every live file
    again, since the host re-created the script modules they may have patched."""
    folder, problem = live_folder()
    _folder_problem[0] = problem
    if folder is None:
        if problem not in _reported_errors:
            _reported_errors.add(problem)
            log.error("[Hot Reload] %s", problem)
        return
    tracked, problems = tracked_folders()
    for problem in problems:
        if problem not in _reported_errors:
            _reported_errors.add(problem)
            log.error("[Hot Reload] %s", problem)
    previous = get_reloader()
    reloader = ensure_started(folder, force_polling=forced_polling(), host=hooks(), tracked=tracked)
    if reloader is previous:
        reloader.track(tracked)
        reloader.rerun_all()
    else:
        # The host prints its "Startup time: ..." summary right after app-started: our first
        # lines, written from the worker's thread, would otherwise land inside it (seen on Forge).
        reloader.wait_until_watching(FIRST_PASS_WAIT)


def on_app_started(demo: Any, app: Any) -> None:
    """Called only while enabled (the entry returns at once otherwise). With --nowebui `demo` is
    None and no UI callback ever ran: the routes and the reloader are all there is."""
    _ensure_console_log()
    if app is not None:
        try:
            _app[0] = weakref.ref(app)
        except TypeError:  # an app class that takes no weak reference: its routes are not looked through
            _app[0] = None
        add_page_routes(demo, app)
    if demo is not None:
        _prepare_tabs_for_rerender(demo)
    start_watching()


def _prepare_tabs_for_rerender(demo: Any) -> None:
    """On gradio 4, each tab of the webui's main Tabs (A1111/Forge create_ui: `gr.Tabs(elem_id="tabs")`,
    a `gr.TabItem(elem_id="tab_<id>")` each) gets the event an open page fires to show it rebuilt
    without a page load. Done before any rebuild: a page knows only the events it loaded."""
    tabs = find_block(demo, "tabs")
    items = [item for item in list(getattr(tabs, "children", None) or [])
             if str(getattr(item, "elem_id", "") or "").startswith("tab_")]
    if prepare(demo, items):
        recompute(demo)


def on_before_reload() -> None:
    """Reload UI (A1111/Forge), before the host executes the scripts again: the tracked extensions'
    modules are taken out of sys.modules, so that the scripts import them afresh and a change that
    could not apply in place (a class's bases, say) applies now. Called only while enabled."""
    reloader = get_reloader()
    if reloader is not None:
        reloader.before_reload_ui()


def on_ui_tabs() -> list[tuple[Any, str, str]]:
    """The "Hot Reload" tab (the entry asks only while hot reload is enabled)."""
    from .page.ui import build_panel

    return [(build_panel(feed()), *TAB)]


def _on_enabled_change() -> None:
    # Switched on, watching starts at once; the page's routes and the tab come with the next
    # app start ("Reload UI"), since a disabled extension's callbacks return at once.
    if not option(OPT_ENABLED, True):
        shutdown()
    else:
        start_watching()


def _on_tracked_change() -> None:
    reloader = get_reloader()
    if reloader is not None and option(OPT_ENABLED, True):
        folders, problems = tracked_folders()
        for problem in problems:
            log.error("[Hot Reload] %s", problem)
        reloader.track(folders)


def _on_watching_change() -> None:
    if option(OPT_ENABLED, True):
        start_watching()  # another folder or watch mode means a new reloader


def _multiselect(choices: Callable[[], list[str]]) -> tuple[Any, Callable[[], dict[str, Any]]]:
    """A setting's multiselect dropdown: the component and its arguments. On each page load the
    host refreshes every setting with `gr.update(value=..., **arguments)`, which gradio 3.41 checks
    against `Dropdown.update()`: it takes no `multiselect`, and one such setting fails the whole
    refresh. So the host's own always-multiselect dropdown (A1111, Forge, SD.Next:
    `ui_components.DropdownMulti`) is used, with the choices alone."""
    import gradio as gr

    try:
        from modules import ui_components  # the host's; imported long before its settings are made

        multi = getattr(ui_components, "DropdownMulti", None)
    except ImportError:
        multi = None
    if isinstance(multi, type):
        return multi, lambda: {"choices": choices()}
    return gr.Dropdown, lambda: {"choices": choices(), "multiselect": True}  # a host without its own


def on_ui_settings() -> None:
    import gradio as gr

    _ensure_console_log()
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
        OPT_FOLDER: option_info(
            "", f"Live folder (empty: {DEFAULT_FOLDER_NAME}/ in the webui's data folder; --hot-reload-dir wins)",
            section=SECTION, onchange=_on_watching_change,
        ),
        OPT_TRACKED: option_info(
            [], "Extensions developed live: their loaded modules, scripts, style.css and javascript/ follow your "
            "edits (also --hot-reload-track DIR)", *_multiselect(lambda: sorted(installed_extensions())),
            section=SECTION, onchange=_on_tracked_change,
        ),
        OPT_POLLING: option_info(
            False, "Poll the live folder instead of native file events (network drives, WSL /mnt, Docker)",
            section=SECTION, onchange=_on_watching_change,
        ),
        OPT_WAIT_FOR_GENERATION: option_info(
            True, "Wait for running generations: a file saved meanwhile runs when the generation has finished",
            section=SECTION,
        ),
        OPT_SUCCESS_TOASTS: option_info(
            True, "Show success toasts (errors are always shown, until dismissed)", section=SECTION,
        ),
        OPT_TOAST_SECONDS: option_info(
            6, "Toast duration (s)", gr.Slider, {"minimum": 1, "maximum": 60, "step": 1}, section=SECTION,
        ),
        OPT_EDITOR_LINK: option_info(
            "", "Editor link: file:line in toasts opens your editor, e.g. vscode://file/{path}:{line} "
            "(empty: plain text)", section=SECTION,
        ),
    }
    for key, info in settings.items():
        # A1111 1.7+ and Forge list sections under categories; without one ours sit under
        # "Uncategorized". Set as an attribute: older hosts' OptionInfo takes no such argument.
        info.category_id = SETTINGS_CATEGORY
        opts.add_option(key, info)
