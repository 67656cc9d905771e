"""The real extension files (preload.py, install.py, scripts/, hotreload_lib) in a stand-in host
that loads them as A1111 does (tests/standin/host.py, after ../shared/HOST_CONTRACT.md)."""
from __future__ import annotations

import ast
import logging
import sys
import textwrap
import threading
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest
from watchdog.observers.api import BaseObserver

from tests.conftest import EventWatcher, webui_events, write
from tests.standin.host import STANDIN_ROOT, StandinWebui, built_in_parser

PATCH_OTHER_EXTENSION = textwrap.dedent("""
    from modules import script_loading
    from hotreload_lib import replace

    for path, module in script_loading.loaded_scripts.items():
        if path.endswith("other_ext.py"):
            replace(module, "greet", lambda: "patched")
""")


def live_threads() -> tuple[int, int]:
    """(reloader workers, watchdog observers) alive, once stopped ones have had time to end."""
    deadline = time.monotonic() + 5
    while True:
        workers = [t for t in threading.enumerate() if t.name == "hot-reload-worker"]
        observers = [t for t in threading.enumerate() if isinstance(t, BaseObserver)]
        if time.monotonic() > deadline or all(t.is_alive() for t in workers + observers):
            return len(workers), len(observers)
        time.sleep(0.05)


def test_preload_adds_the_flag_and_parsing_stays_strict(webui: StandinWebui, tmp_path: Path) -> None:
    assert webui.preload(["--hot-reload-dir", str(tmp_path)]).hot_reload_dir == str(tmp_path)
    with pytest.raises(SystemExit):
        webui.preload(["--hot-reload-dri", str(tmp_path)])


def test_the_track_flag_is_repeatable_and_parsing_twice_adds_nothing(webui: StandinWebui, tmp_path: Path) -> None:
    argv = ["--hot-reload-track", str(tmp_path / "a"), "--hot-reload-track", str(tmp_path / "b")]
    parser = built_in_parser()
    from modules import script_loading

    script_loading.preload_extensions([str(webui.ours)], parser)  # type: ignore[attr-defined]
    parser.parse_known_args(argv)  # the launcher's lenient parse comes first
    assert parser.parse_args(argv).hot_reload_track == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert parser.parse_args([]).hot_reload_track == []


def test_preload_called_twice_does_not_add_the_flag_twice(webui: StandinWebui) -> None:
    parser = built_in_parser()  # conflict_handler="error", as on A1111 and Forge
    from modules import script_loading

    script_loading.preload_extensions([str(webui.ours)] * 2, parser)  # type: ignore[attr-defined]
    assert parser.parse_args(["--hot-reload-dir", "x"]).hot_reload_dir == "x"


def test_preload_imports_nothing_from_the_webui() -> None:
    tree = ast.parse((STANDIN_ROOT.parents[2] / "preload.py").read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] == "modules"]


@pytest.mark.parametrize("installed, expected", [
    ("", ["['install', 'watchdog>=3.0,<8', '--prefer-binary']"]),
    ("watchdog", []),
])
def test_install_py_installs_watchdog_through_the_hosts_pip(webui: StandinWebui, tmp_path: Path,
                                                          installed: str, expected: list[str]) -> None:
    pip_log = tmp_path / "pip.log"
    pip_log.touch()
    result = webui.run_installer(webui.ours, {  # type: ignore[attr-defined]
        "STANDIN_INSTALLED": installed, "STANDIN_PIP_LOG": str(pip_log)})
    assert result.returncode == 0, result.stderr
    # The whole requirement reaches pip as ONE argument: the shell did not read > or < as redirection.
    assert pip_log.read_text().splitlines() == expected
    assert not list(webui.webui_root.glob("=*"))


def test_the_entry_registers_callbacks_and_loads_nothing_at_import(webui: StandinWebui) -> None:
    from modules import script_callbacks

    webui.load_scripts()
    assert "hotreload_lib" not in sys.modules, "the scripts entry imported hotreload_lib eagerly"
    assert str(webui.ours) not in sys.path  # type: ignore[attr-defined]
    ours = [entry.script for entry in script_callbacks.callback_map["callbacks_app_started"]
            if "other" not in entry.script]
    assert ours == [str(webui.ours / "scripts" / "hot_reload.py")]  # type: ignore[attr-defined]
    assert live_threads() == (0, 0) or "hotreload_lib" not in sys.modules


def test_app_started_watches_the_flag_folder_with_the_extension_root_off_sys_path(
        webui: StandinWebui, tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    webui.preload(["--hot-reload-dir", str(live)])
    webui.start()
    package = sys.modules["hotreload_lib"]
    assert Path(package.__file__).parent == webui.ours / "hotreload_lib"  # type: ignore[attr-defined]
    assert str(webui.ours) not in sys.path  # type: ignore[attr-defined]
    watcher = webui_events()
    write(live / "uses_the_webui.py", "from modules import shared\nfrom hotreload_lib import replace\n")
    assert watcher.file("uses_the_webui.py").outcome == "ok"
    assert live_threads() == (1, 1)


def test_reload_ui_keeps_one_observer_and_runs_every_file_again(webui: StandinWebui, tmp_path: Path) -> None:
    from modules import script_loading

    live = tmp_path / "live"
    write(live / "patch_other.py", PATCH_OTHER_EXTENSION)
    webui.preload(["--hot-reload-dir", str(live)])
    first_app = webui.start()
    watcher = webui_events()
    watcher.file("patch_other.py", "ok")
    for round_number in range(3):
        app = webui.reload_ui()
        assert app is not first_app
        watcher.file("patch_other.py", "ok")
        other = [m for p, m in script_loading.loaded_scripts.items() if p.endswith("other_ext.py")][-1]
        assert other.greet() == "patched", f"not re-applied on the new script module (round {round_number})"
        assert live_threads() == (1, 1)
    assert watcher.quiet(0.5) == []


def test_disabled_means_no_thread_and_toggling_starts_and_stops(webui: StandinWebui, tmp_path: Path) -> None:
    from modules import shared

    live = tmp_path / "live"
    write(live / "patch_other.py", PATCH_OTHER_EXTENSION)
    webui.preload(["--hot-reload-dir", str(live)])
    shared.opts.data["hot_reload_enabled"] = False
    webui.start()
    assert live_threads() == (0, 0)
    shared.opts.set("hot_reload_enabled", True)
    watcher = webui_events()
    watcher.file("patch_other.py", "ok")
    assert live_threads() == (1, 1)
    shared.opts.set("hot_reload_enabled", False)
    assert live_threads() == (0, 0)
    stopped = watcher.file("patch_other.py")
    # The file is still there: switching off is no "Removed" toast.
    assert (stopped.outcome, stopped.message.startswith("hot reload stopped: restored")) == ("info", True)
    from modules import script_loading

    other = [m for p, m in script_loading.loaded_scripts.items() if p.endswith("other_ext.py")][-1]
    assert other.greet() == "original", "disabling must undo the live files' replacements"


def test_a_missing_flag_folder_is_one_error_line_and_nothing_else(
        webui: StandinWebui, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    webui.preload(["--hot-reload-dir", str(tmp_path / "missing")])
    webui.start()
    webui.reload_ui()
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("[Hot Reload]")]
    assert len(errors) == 1 and "does not exist" in errors[0]
    assert live_threads() == (0, 0)


def test_without_the_flag_a_folder_in_the_data_folder_is_made_and_nothing_is_patched(
        webui: StandinWebui, tmp_path: Path) -> None:
    from modules import shared

    webui.preload([])
    webui.start()
    reloader = sys.modules["hotreload_lib.reloader"].get_reloader()
    folder = (webui.webui_root / "hot-reload").resolve()
    assert reloader.folder == folder and shared.cmd_opts.hot_reload_dir is None
    example = webui_events().file("example.py", "ok")
    assert example.replaced == () and "nothing replaced" in example.message  # a fresh install changes nothing
    assert "replace(processing" in (folder / "example.py").read_text()
    # What the user writes there is theirs: a second start keeps it.
    write(folder / "example.py", "MINE = 1\n")
    webui.reload_ui()
    assert (folder / "example.py").read_text() == "MINE = 1\n"


def test_the_live_folder_setting_switches_the_folder_at_once(webui: StandinWebui, tmp_path: Path) -> None:
    from modules import shared

    webui.preload([])
    webui.start()
    other = tmp_path / "other"
    write(other / "there.py", "x = 1\n")
    shared.opts.set("hot_reload_folder", str(other))
    assert webui_events().file("there.py").outcome == "ok"
    assert sys.modules["hotreload_lib.reloader"].get_reloader().folder == other.resolve()


def test_installed_while_running_the_flag_attribute_is_missing(webui: StandinWebui) -> None:
    """Installed from the Extensions tab: preload never ran, so cmd_opts has no hot_reload_dir."""
    from modules import shared

    shared.cmd_opts = Namespace(listen=False)
    webui.start()
    assert sys.modules["hotreload_lib.reloader"].get_reloader() is not None


def test_settings_are_registered_in_their_own_section(webui: StandinWebui) -> None:
    from modules import shared

    webui.preload([])
    webui.start()
    labels: dict[str, Any] = shared.opts.data_labels
    assert labels["hot_reload_enabled"].section == ("hot_reload", "Hot Reload")
    assert labels["hot_reload_enabled"].default is True
    assert {labels[key].category_id for key in labels if key.startswith("hot_reload_")} == {"system"}


def test_the_polling_setting_switches_the_watcher_at_once(webui: StandinWebui, tmp_path: Path) -> None:
    from modules import shared

    live = tmp_path / "live"
    write(live / "patch_other.py", PATCH_OTHER_EXTENSION)
    webui.preload(["--hot-reload-dir", str(live)])
    webui.start()
    watcher = webui_events()
    watcher.file("patch_other.py", "ok")
    shared.opts.set("hot_reload_polling", True)
    reloader = sys.modules["hotreload_lib.reloader"].get_reloader()
    watcher.file("patch_other.py", "ok")
    assert (reloader.mode, reloader.mode_reason.endswith("forced by the setting")) == ("polling", True)
    assert live_threads() == (1, 1)


@pytest.mark.parametrize("root_setup", ["no handler", "installers ran"])
def test_console_lines_show_when_the_webui_configured_no_logging(
        webui: StandinWebui, tmp_path: Path, capfd: pytest.CaptureFixture[str], root_setup: str) -> None:
    """A1111 and Forge leave the root logger without a handler unless --loglevel is given; a normal
    start runs extension installers, whose logging.debug() gives it a stderr handler at WARNING."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()
    if root_setup == "installers ran":
        logging.debug("Installing some-extension")  # what launch_utils.run_extensions_installers does
    ours = logging.getLogger("hot_reload")
    try:
        live = tmp_path / "live"
        live.mkdir()
        webui.preload(["--hot-reload-dir", str(live)])
        webui.start()
        write(live / "hello.py", "x = 1\n")
        webui_events().file("hello.py", "ok")
        assert "[Hot Reload] hello.py: reloaded in" in capfd.readouterr().err
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        ours.handlers.clear()
        ours.propagate = True
        ours.setLevel(logging.NOTSET)


def test_with_a_log_level_chosen_the_console_lines_follow_it(
        webui: StandinWebui, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()
    logging.basicConfig(level=logging.WARNING)  # what A1111 does with --loglevel WARNING
    try:
        live = tmp_path / "live"
        live.mkdir()
        webui.preload(["--hot-reload-dir", str(live), "--loglevel", "WARNING"])
        webui.start()
        write(live / "hello.py", "x = 1\n")
        webui_events().file("hello.py", "ok")
        assert "reloaded in" not in capfd.readouterr().err
        assert not logging.getLogger("hot_reload").handlers
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_console_lines_go_through_the_hosts_logger_when_the_root_is_silenced(
        webui: StandinWebui, tmp_path: Path) -> None:
    """SD.Next points the root logger at a NullHandler at ERROR and prints through `shared.log`."""
    from modules import shared

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [logging.NullHandler()]
    root.setLevel(logging.ERROR)
    host_handler = ListHandler()
    shared.log = logging.getLogger("standin.sd")
    shared.log.addHandler(host_handler)
    ours = logging.getLogger("hot_reload")
    try:
        live = tmp_path / "live"
        write(live / "hello.py", "x = 1\n")
        webui.preload(["--hot-reload-dir", str(live)])
        webui.start()
        # app-started waited for the first pass: its lines are out before the host prints its summary.
        assert any(line.startswith("[Hot Reload] hello.py: reloaded in") for line in host_handler.lines)
        assert any(line.startswith("[Hot Reload] watching ") for line in host_handler.lines)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        shared.log.removeHandler(host_handler)
        del shared.log
        ours.handlers.clear()
        ours.propagate = True
        ours.setLevel(logging.NOTSET)


# -- the page's routes and tab, on each new app -----------------------------------------------------
PAGE_PATHS = ("/hot-reload/events", "/hot-reload/status", "/hot-reload/apply-now", "/hot-reload/reload-ui",
              "/hot-reload/apply")


def route_count(app: Any, path: str) -> int:
    return [getattr(route, "path", None) for route in app.routes].count(path)


def test_each_new_app_gets_the_page_routes_exactly_once(webui: StandinWebui, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from modules import script_callbacks

    live = tmp_path / "live"
    write(live / "patch_other.py", PATCH_OTHER_EXTENSION)
    webui.preload(["--hot-reload-dir", str(live)])
    apps = [webui.start()]
    watcher = webui_events()
    watcher.file("patch_other.py", "ok")
    for _ in range(2):
        apps.append(webui.reload_ui())  # the reloader runs already: its files run again
        watcher.file("patch_other.py", "ok")
    script_callbacks.fire("app_started", None, apps[-1])  # a host that fires twice for one app
    watcher.file("patch_other.py", "ok")
    assert webui.apps_created == 3
    for app in apps:
        assert [route_count(app, path) for path in PAGE_PATHS] == [1] * len(PAGE_PATHS)
    state = TestClient(apps[-1]).get("/hot-reload/status").json()
    assert state["folder"] == str(live) and state["mode"] in ("native", "polling")
    assert [(row["owner_file"], row["target"].endswith("greet")) for row in state["active"]] == [
        ("patch_other.py", True)]


def test_disabled_every_callback_returns_at_once(webui: StandinWebui, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from modules import shared

    live = tmp_path / "live"
    live.mkdir()
    webui.preload(["--hot-reload-dir", str(live)])
    shared.opts.data["hot_reload_enabled"] = False
    app = webui.start()
    assert webui.ui_tabs == []  # type: ignore[attr-defined]
    assert TestClient(app).get("/hot-reload/status").status_code == 404
    assert live_threads() == (0, 0)
    shared.opts.set("hot_reload_enabled", True)  # watching starts at once, the routes with the next app
    assert TestClient(webui.reload_ui()).get("/hot-reload/status").json()["running"] is True


def test_the_page_is_told_why_the_flag_folder_cannot_be_watched(webui: StandinWebui, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    webui.preload(["--hot-reload-dir", str(tmp_path / "missing")])
    app = webui.start()
    state = TestClient(app).get("/hot-reload/status").json()
    assert state["mode"] == "off" and "does not exist" in state["problem"]


def test_the_hot_reload_tab_and_the_toast_settings(webui: StandinWebui, tmp_path: Path) -> None:
    import gradio as gr
    from modules import shared

    live = tmp_path / "live"
    live.mkdir()
    webui.preload(["--hot-reload-dir", str(live)])
    webui.start()
    [(blocks, title, elem_id)] = webui.ui_tabs  # type: ignore[attr-defined]
    assert isinstance(blocks, gr.Blocks) and (title, elem_id) == ("Hot Reload", "hot_reload")
    labels = shared.opts.data_labels
    assert labels["hot_reload_success_toasts"].default is True
    assert labels["hot_reload_toast_seconds"].default == 6
    assert labels["hot_reload_editor_link"].default == ""  # file:line stays plain text until the user sets one
    page_options = ("hot_reload_success_toasts", "hot_reload_toast_seconds", "hot_reload_editor_link")
    assert {labels[key].section for key in page_options} == {("hot_reload", "Hot Reload")}


def test_sdnext_routes_go_through_its_api_registrar_with_auth(webui: StandinWebui, tmp_path: Path) -> None:
    """SD.Next: `shared.api.add_api_route(path, fn, auth=True)` adds its auth and a copy of the route
    under the webui's subpath."""
    from modules import shared

    calls: list[tuple[str, bool]] = []

    class SdNextApi:
        def add_api_route(self, path: str, endpoint: Any, auth: bool = True, **kwargs: Any) -> None:
            calls.append((path, auth))
            for prefix in ("/sdnext", ""):
                webui.app.add_api_route(prefix + path, endpoint, **kwargs)  # type: ignore[union-attr]

    live = tmp_path / "live"
    live.mkdir()
    webui.preload(["--hot-reload-dir", str(live)])
    shared.api = SdNextApi()
    try:
        app = webui.start()
    finally:
        del shared.api
    assert calls == [(path, True) for path in PAGE_PATHS]
    counts = [route_count(app, prefix + path) for prefix in ("/sdnext", "") for path in PAGE_PATHS]
    assert counts == [1] * 2 * len(PAGE_PATHS)


# -- a generation running, and the callbacks live files register (HOST_CONTRACT.md §4, §9) ---------
VERSIONED = "from modules import shared\nVERSION = {version!r}\nshared.seen_versions.append(VERSION)\n"


def started_with_live_folder(webui: StandinWebui, tmp_path: Path) -> tuple[Path, EventWatcher]:
    live = tmp_path / "live"
    live.mkdir()
    webui.preload(["--hot-reload-dir", str(live)])
    webui.start()
    watcher = webui_events()
    deadline = time.monotonic() + 10
    while sys.modules["hotreload_lib.reloader"].get_reloader().mode == "starting" and time.monotonic() < deadline:
        time.sleep(0.01)
    return live, watcher


@pytest.mark.parametrize("busy_by", ["state", "current_task", "pending_tasks"])
def test_saves_during_a_generation_wait_and_the_latest_runs_once_after(
        webui: StandinWebui, tmp_path: Path, busy_by: str) -> None:
    from modules import progress, shared

    shared.seen_versions = []
    live, watcher = started_with_live_folder(webui, tmp_path)
    write(live / "gone.py", VERSIONED.format(version="gone-1"))
    watcher.file("gone.py", "ok")
    if busy_by == "state":
        shared.state.begin("txt2img")
    elif busy_by == "current_task":
        progress.start_task("task(1)")
    else:
        progress.add_task_to_queue("task(2)")
    write(live / "tweak.py", VERSIONED.format(version=1))
    deferred = watcher.file("tweak.py")
    assert deferred.outcome == "deferred" and "a generation is" in deferred.message
    write(live / "tweak.py", VERSIONED.format(version=2))
    (live / "gone.py").unlink()
    assert watcher.file("gone.py").outcome == "deferred"  # a deletion waits too
    assert watcher.quiet(0.5) == []  # the second save of tweak.py waits silently: one notice per file
    assert shared.seen_versions == ["gone-1"]
    shared.state.end()
    progress.finish_task("task(1)")
    progress.pending_tasks.clear()
    ran = watcher.file("tweak.py")
    assert ran.outcome == "ok" and shared.seen_versions == ["gone-1", 2]
    assert watcher.file("gone.py").outcome == "removed"
    assert watcher.quiet(0.3) == []


def test_the_setting_off_means_no_waiting(webui: StandinWebui, tmp_path: Path) -> None:
    from modules import shared

    shared.seen_versions = []
    live, watcher = started_with_live_folder(webui, tmp_path)
    shared.opts.set("hot_reload_wait_for_generation", False)
    shared.state.begin("txt2img")
    try:
        write(live / "tweak.py", VERSIONED.format(version=1))
        assert watcher.file("tweak.py").outcome == "ok"
    finally:
        shared.state.end()


def test_apply_now_runs_what_waits_while_the_generation_goes_on(webui: StandinWebui, tmp_path: Path) -> None:
    from modules import shared

    shared.seen_versions = []
    live, watcher = started_with_live_folder(webui, tmp_path)
    shared.state.begin("txt2img")
    try:
        write(live / "tweak.py", VERSIONED.format(version=1))
        assert watcher.file("tweak.py").outcome == "deferred"
        sys.modules["hotreload_lib.reloader"].get_reloader().apply_now()
        assert watcher.file("tweak.py").outcome == "ok" and shared.seen_versions == [1]
    finally:
        shared.state.end()


REGISTERS_A_CALLBACK = textwrap.dedent("""
    from modules import script_callbacks

    def on_saved(params):
        return {version!r}

    script_callbacks.on_image_saved(on_saved)
    {tail}
""")


def image_saved_callbacks() -> list[Any]:
    from modules import script_callbacks

    return [entry.callback(None) for entry in script_callbacks.ordered_callbacks("image_saved")]


def test_a_live_files_webui_callbacks_are_its_own(webui: StandinWebui, tmp_path: Path) -> None:
    from modules import script_callbacks

    live, watcher = started_with_live_folder(webui, tmp_path)
    for version in range(3):
        write(live / "hook.py", REGISTERS_A_CALLBACK.format(version=version, tail=""))
        assert watcher.file("hook.py").outcome == "ok"
        assert image_saved_callbacks() == [version], "a re-save must replace the callback, not add one"
    # A failing run: what it registered goes, the last good run's callback stays.
    write(live / "hook.py", REGISTERS_A_CALLBACK.format(version="bad", tail="1 / 0"))
    assert watcher.file("hook.py").outcome == "error"
    assert image_saved_callbacks() == [2]
    (live / "hook.py").unlink()
    assert watcher.file("hook.py").outcome == "removed"
    assert image_saved_callbacks() == []
    # The extension's own callback was left alone.
    assert [entry.script for entry in script_callbacks.callback_map["callbacks_app_started"]] == [
        str(webui.ours / "scripts" / "hot_reload.py")]  # type: ignore[attr-defined]


def test_a_file_that_never_ran_well_registers_nothing(webui: StandinWebui, tmp_path: Path) -> None:
    live, watcher = started_with_live_folder(webui, tmp_path)
    write(live / "hook.py", REGISTERS_A_CALLBACK.format(version="bad", tail="raise RuntimeError('no')"))
    assert watcher.file("hook.py").outcome == "error"
    assert image_saved_callbacks() == []


def test_api_only_mode_watches_and_serves_the_routes(webui: StandinWebui, tmp_path: Path,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    from fastapi.testclient import TestClient

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    ours = logging.getLogger("hot_reload")
    try:
        live = tmp_path / "live"
        write(live / "patch_other.py", PATCH_OTHER_EXTENSION)
        webui.preload(["--hot-reload-dir", str(live), "--nowebui"])
        app = webui.start_api_only()
        webui_events().file("patch_other.py", "ok")
        assert [route_count(app, path) for path in PAGE_PATHS] == [1] * len(PAGE_PATHS)
        assert TestClient(app).get("/hot-reload/status").json()["mode"] in ("native", "polling")
        assert "[Hot Reload] patch_other.py: reloaded in" in capfd.readouterr().err
    finally:
        root.handlers[:] = saved
        ours.handlers.clear()
        ours.propagate = True
        ours.setLevel(logging.NOTSET)


def test_the_settings_refresh_on_page_load_works(webui: StandinWebui, tmp_path: Path) -> None:
    """The host refreshes every setting on each page load in one request (A1111's ui_settings:
    `gr.update(value=..., **component_args)` per setting, checked by gradio against the component):
    ours must not fail it, and the tracked extensions stay a multiselect dropdown of the installed ones."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from modules import shared, ui_settings

    live = tmp_path / "live"
    live.mkdir()
    webui.preload(["--hot-reload-dir", str(live)])
    webui.start()
    shared.opts.set("hot_reload_tracked_extensions", ["other"])
    settings = ui_settings.UiSettings()
    with gr.Blocks() as demo:
        settings.create_ui().render()
        settings.add_functionality(demo)
    keys = [key for key in shared.opts.data_labels if key in shared.settings_components]
    app = gr.mount_gradio_app(FastAPI(), demo, path="/")
    with TestClient(app) as client:
        config = client.get("/config").json()
        [load] = [dependency.get("id", index) for index, dependency in enumerate(config["dependencies"])
                  if dependency.get("trigger") == "load"
                  or any(isinstance(target, list) and target[1] == "load" for target in dependency["targets"])]
        refreshed = client.post("/run/predict", json={"fn_index": load, "data": [], "session_hash": "page"})
    assert refreshed.status_code == 200, refreshed.text
    tracked = refreshed.json()["data"][keys.index("hot_reload_tracked_extensions")]
    assert tracked["choices"] in (["my-hot-reload-copy", "other"],
                                  [["my-hot-reload-copy", "my-hot-reload-copy"], ["other", "other"]])  # gradio 4
    assert tracked["value"] == ["other"]
    [dropdown] = [component for component in config["components"]
                  if component.get("props", {}).get("elem_id") == "setting_hot_reload_tracked_extensions"]
    assert dropdown["props"]["multiselect"] is True
