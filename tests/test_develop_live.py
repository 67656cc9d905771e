"""Developing an extension live (issue "develop your own extension live"): a tracked extension in the
stand-in host, loaded the host's way (scripts executed from file and kept outside sys.modules, Script
instances held by a ScriptRunner, callbacks recorded with their file), edited on disk while a real
reloader and watchdog observer watch it."""
from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EventWatcher, served, webui_events, write
from tests.standin.host import StandinWebui

SCRIPT = textwrap.dedent("""
    from modules import script_callbacks, scripts
    from my_ext_lib.greeting import greet

    registered = []


    class MyScript(scripts.Script):
        def title(self):
            return "My script"

        def run(self, p, *args):
            return "run v1, " + greet("p")

        def ui(self, is_img2img):
            return ["ui v1"]


    def on_saved(params):
        return "saved v1"


    script_callbacks.on_image_saved(on_saved)
    registered.append(on_saved)
""")
GREETING = 'def greet(name):\n    return "hello " + name\n'
PRELOAD = 'RUNS = []\n\n\ndef preload(parser):\n    RUNS.append("preload")\n'


@pytest.fixture
def my_ext(webui: StandinWebui) -> Iterator[Path]:
    folder = webui.webui_root / "extensions" / "my-ext"
    write(folder / "scripts" / "my_ext.py", SCRIPT)
    write(folder / "my_ext_lib" / "__init__.py", "")
    write(folder / "my_ext_lib" / "greeting.py", GREETING)
    write(folder / "style.css", "#my-ext { color: red; }\n")
    write(folder / "javascript" / "my_ext.js", "var myExt = 1;\n")
    write(folder / "preload.py", PRELOAD)
    write(folder / "install.py", "import launch\n")
    webui.extension_dirs.append(folder)
    from modules import extensions

    extensions.extensions.append(extensions.Extension("my-ext", str(folder)))
    yield folder
    for name in [name for name in sys.modules if name.split(".")[0] == "my_ext_lib"]:
        del sys.modules[name]


@pytest.fixture
def linked_ext(webui: StandinWebui, tmp_path: Path) -> Iterator[Path]:
    """my-ext developed elsewhere and symlinked into the webui's extensions/, as developers do: the
    host loads it by the link's path. Yields the real folder."""
    real = tmp_path / "dev" / "my-ext"
    write(real / "scripts" / "my_ext.py", SCRIPT)
    write(real / "my_ext_lib" / "__init__.py", "")
    write(real / "my_ext_lib" / "greeting.py", GREETING)
    link = webui.webui_root / "extensions" / "my-ext"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(real, target_is_directory=True)
    webui.extension_dirs.append(link)
    from modules import extensions

    extensions.extensions.append(extensions.Extension("my-ext", str(link)))
    yield real
    for name in [name for name in sys.modules if name.split(".")[0] == "my_ext_lib"]:
        del sys.modules[name]


def start(webui: StandinWebui, tmp_path: Path, *argv: str) -> tuple[Path, EventWatcher]:
    live = tmp_path / "live"
    live.mkdir(exist_ok=True)
    webui.preload(["--hot-reload-dir", str(live), *argv])
    webui.start()
    return live, webui_events()


def the_script() -> Any:
    from modules import scripts

    [instance] = [s for s in scripts.scripts_txt2img.scripts if s.title() == "My script"]
    return instance


def saved_callbacks() -> list[str]:
    from modules import script_callbacks

    return [entry.callback(None) for entry in script_callbacks.ordered_callbacks("image_saved")]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    time.sleep(0.01)  # a new mtime, even on coarse clocks
    write(path, text.replace(old, new))


def test_editing_a_tracked_extension_updates_its_loaded_code_in_place(
        webui: StandinWebui, my_ext: Path, tmp_path: Path) -> None:
    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    script = the_script()  # made by the host before any edit: it must follow them
    module = sys.modules["my_ext_lib.greeting"]
    assert script.run(None) == "run v1, hello p"

    edit(my_ext / "my_ext_lib" / "greeting.py", '"hello "', '"bonjour "')
    updated = watcher.file("my-ext/my_ext_lib/greeting.py")
    assert updated.outcome == "updated" and updated.modules == ("my_ext_lib.greeting",)
    assert {"name": "my_ext_lib.greeting.greet", "kind": "function", "action": "updated"} in updated.changed
    assert script.run(None) == "run v1, bonjour p"  # the script's `from ... import greet` copy too
    assert sys.modules["my_ext_lib.greeting"] is module

    edit(my_ext / "scripts" / "my_ext.py", '"run v1, "', '"run v2, "')
    assert watcher.file("my-ext/scripts/my_ext.py").outcome == "updated"
    assert script.run(None) == "run v2, bonjour p" and the_script() is script

    edit(my_ext / "scripts" / "my_ext.py", '"saved v1"', '"saved v2"')
    assert watcher.file("my-ext/scripts/my_ext.py").outcome == "updated"
    assert saved_callbacks() == ["saved v2"], "an edited callback runs its new body and is registered once"

    edit(my_ext / "scripts" / "my_ext.py", '["ui v1"]', '["ui v2"]')
    ui_changed = watcher.file("my-ext/scripts/my_ext.py")
    assert ui_changed.outcome == "updated" and ui_changed.needs == "reload_ui"
    assert any("MyScript.ui built the page" in note for note in ui_changed.notes)


ROUTES_SCRIPT = textwrap.dedent("""
    from modules import script_callbacks


    def on_app_started(demo, app):
        @app.get("/my-ext/ping")
        async def ping():
            return {"answer": "pong v1"}

        @app.get("/my-ext/hello")
        def hello(name: str = "you"):
            return {"answer": "hello " + name}

        def on_saved(params):
            return "nested saved v1"

        script_callbacks.on_image_saved(on_saved)


    script_callbacks.on_app_started(on_app_started)
""")


def test_a_route_handler_nested_in_an_app_started_callback_serves_its_new_body(
        webui: StandinWebui, my_ext: Path, tmp_path: Path) -> None:
    """The common shape of an extension's API (tagcomplete's): handlers defined inside the
    callback, held only by the app's routes (or the host's callback lists). Editing one reaches
    the closure the route serves."""
    routes = my_ext / "scripts" / "my_routes.py"
    write(routes, ROUTES_SCRIPT)
    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    with served(webui.app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/my-ext/ping").json() == {"answer": "pong v1"}

        edit(routes, '"pong v1"', '"pong v2"')
        updated = watcher.file("my-ext/scripts/my_routes.py")
        assert updated.outcome == "updated" and not updated.notes, updated
        assert client.get("/my-ext/ping").json() == {"answer": "pong v2"}

        edit(routes, '"hello " + name', '"hi " + name.upper()')
        assert watcher.file("my-ext/scripts/my_routes.py").outcome == "updated"
        assert client.get("/my-ext/hello", params={"name": "ann"}).json() == {"answer": "hi ANN"}
        assert client.get("/my-ext/ping").json() == {"answer": "pong v2"}

        assert "nested saved v1" in saved_callbacks()
        edit(routes, '"nested saved v1"', '"nested saved v2"')
        assert watcher.file("my-ext/scripts/my_routes.py").outcome == "updated"
        assert "nested saved v2" in saved_callbacks() and "nested saved v1" not in saved_callbacks()

    app = webui.reload_ui()  # a new app: the callback, as updated, defines the handlers again
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/my-ext/ping").json() == {"answer": "pong v2"}


def test_where_the_host_cannot_rebuild_its_page_the_events_say_restart(
        webui: StandinWebui, my_ext: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SD.Next, --nowebui, a webui without Reload UI: no Reload UI button that can only be refused."""
    from modules import shared

    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    monkeypatch.setattr(shared.state, "request_restart", None)
    edit(my_ext / "scripts" / "my_ext.py", '["ui v1"]', '["ui v2"]')
    ui_changed = watcher.file("my-ext/scripts/my_ext.py")
    assert (ui_changed.outcome, ui_changed.needs) == ("updated", "restart")
    assert any("MyScript.ui built the page: restart the webui to see" in note for note in ui_changed.notes)
    edit(my_ext / "scripts" / "my_ext.py", "class MyScript(scripts.Script):", "class MyScript(scripts.Script, dict):")
    refused = watcher.file("my-ext/scripts/my_ext.py")
    assert (refused.outcome, refused.needs) == ("error", "restart")
    assert "(restart to apply)" in refused.message and "Reload UI" not in refused.message


def test_what_cannot_change_in_place_is_refused_and_reload_ui_waits_for_the_generation(
        webui: StandinWebui, my_ext: Path, tmp_path: Path) -> None:
    from modules import shared

    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    script = the_script()
    edit(my_ext / "scripts" / "my_ext.py", "class MyScript(scripts.Script):", "class MyScript(scripts.Script, dict):")
    refused = watcher.file("my-ext/scripts/my_ext.py")
    assert refused.outcome == "error" and refused.needs == "reload_ui" and "cannot update" in refused.message
    assert refused.message.endswith("(Reload UI to apply: it loads the extension's modules afresh)")
    assert type(script).__bases__ == (sys.modules["modules.scripts"].Script,)  # as it was
    reloader = sys.modules["hotreload_lib.reloader"].get_reloader()
    shared.state.begin("txt2img")
    try:
        reloader.reload_ui()
        time.sleep(0.3)
        assert shared.state.server_command is None, "Reload UI must not interrupt a generation"
    finally:
        shared.state.end()
    watcher.next(lambda e: e.outcome == "info" and e.message.startswith("Reload UI"))
    assert shared.state.server_command == "restart"


def test_a_tracked_file_that_cannot_be_applied_is_failing_until_a_save_applies(
        webui: StandinWebui, my_ext: Path, tmp_path: Path) -> None:
    """The status is what a page opened later, or catching up after a gap, shows: a refusal or an error
    of a tracked file stays in it until the file's code runs, like a failing live file's error."""
    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    reloader = sys.modules["hotreload_lib.reloader"].get_reloader()
    edit(my_ext / "scripts" / "my_ext.py", "class MyScript(scripts.Script):", "class MyScript(scripts.Script, dict):")
    refused = watcher.file("my-ext/scripts/my_ext.py")
    edit(my_ext / "my_ext_lib" / "greeting.py", "def greet(name):", "def greet(name:")
    broken = watcher.file("my-ext/my_ext_lib/greeting.py")
    assert broken.outcome == "error"
    failing = reloader.status()["failing"]
    assert [(event["file"], event["seq"]) for event in failing] == [
        ("my-ext/my_ext_lib/greeting.py", broken.seq), ("my-ext/scripts/my_ext.py", refused.seq)]

    edit(my_ext / "scripts" / "my_ext.py", "class MyScript(scripts.Script, dict):", "class MyScript(scripts.Script):")
    assert watcher.file("my-ext/scripts/my_ext.py").outcome == "updated"
    assert [event["file"] for event in reloader.status()["failing"]] == ["my-ext/my_ext_lib/greeting.py"]


def test_a_tracked_tree_never_runs_as_live_files(webui: StandinWebui, tmp_path: Path) -> None:
    live = tmp_path / "live"
    inside = live / "my-other-ext"
    write(inside / "never.py", "raise SystemExit('ran as a live file')\n")
    write(live / "plain.py", "x = 1\n")
    webui.preload(["--hot-reload-dir", str(live), "--hot-reload-track", str(inside)])
    webui.start()
    watcher = webui_events()
    watcher.file("plain.py", "ok")
    write(inside / "never.py", "raise SystemExit('ran as a live file, after a save')\n")
    write(inside / "preload.py", "def preload(parser):\n    pass\n")
    first = watcher.next(lambda e: e.file.endswith(("never.py", "preload.py")))
    assert (first.file, first.outcome) == ("my-other-ext/preload.py", "info")  # saying nothing ran
    # A slow disk may make two saves of the new preload.py (created, then written): each only says so.
    assert [(e.file, e.outcome) for e in watcher.quiet(0.5) if e.file.endswith(("never.py", "preload.py"))
            and (e.file, e.outcome) != ("my-other-ext/preload.py", "info")] == []


def test_a_live_folder_that_is_an_extension_says_to_track_it(webui: StandinWebui, tmp_path: Path) -> None:
    live = tmp_path / "live"
    write(live / "scripts" / "thing.py", "x = 1\n")
    webui.preload(["--hot-reload-dir", str(live)])
    webui.start()
    watcher = webui_events()
    notice = watcher.next(lambda e: "looks like an extension" in e.message)
    assert "--hot-reload-track" in notice.message and notice.file == "."
    webui.reload_ui()
    assert [e for e in watcher.quiet(0.5) if "looks like an extension" in e.message] == []


def test_an_extension_symlinked_into_the_webui_follows_edits_of_its_real_folder(
        webui: StandinWebui, linked_ext: Path, tmp_path: Path) -> None:
    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(linked_ext))
    script = the_script()
    assert "extensions" in sys.modules["my_ext_lib.greeting"].__file__  # loaded by the link's path
    edit(linked_ext / "my_ext_lib" / "greeting.py", '"hello "', '"bonjour "')
    assert watcher.file("my-ext/my_ext_lib/greeting.py").outcome == "updated"
    edit(linked_ext / "scripts" / "my_ext.py", '"run v1, "', '"run v2, "')
    assert watcher.file("my-ext/scripts/my_ext.py").outcome == "updated"
    assert script.run(None) == "run v2, bonjour p"
    # The page links the stylesheet by the link's path (SD.Next: file=extensions/my-ext/style.css).
    from modules import ui_gradio_extensions  # noqa: F401  (the host imports it to build the page)

    write(linked_ext / "style.css", "body { color: blue; }\n")
    css = watcher.file("my-ext/style.css")
    assert css.url.startswith(f"file={webui.webui_root / 'extensions' / 'my-ext' / 'style.css'}?")


def test_the_setting_tracks_an_installed_extension_at_once(webui: StandinWebui, my_ext: Path,
                                                           tmp_path: Path) -> None:
    from modules import shared

    _live, watcher = start(webui, tmp_path)
    edit(my_ext / "my_ext_lib" / "greeting.py", '"hello "', '"hi "')
    assert [e for e in watcher.quiet(0.5) if e.file.startswith("my-ext")] == []  # not tracked yet
    shared.opts.set("hot_reload_tracked_extensions", ["my-ext"])
    state = sys.modules["hotreload_lib.reloader"].get_reloader()
    deadline = time.monotonic() + 10
    while not state.status()["tracked"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [tree["folder"] for tree in state.status()["tracked"]] == [str(my_ext.resolve())]
    edit(my_ext / "my_ext_lib" / "greeting.py", '"hi "', '"hey "')
    assert watcher.file("my-ext/my_ext_lib/greeting.py").outcome == "updated"
    assert sys.modules["my_ext_lib.greeting"].greet("x") == "hey x"


def test_stylesheets_and_scripts_are_page_assets(webui: StandinWebui, my_ext: Path, tmp_path: Path) -> None:
    from modules import ui_gradio_extensions

    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    before = ui_gradio_extensions.reloads
    edit(my_ext / "style.css", "red", "blue")
    css = watcher.file("my-ext/style.css")
    assert (css.outcome, css.asset) == ("updated", "css")
    assert css.url.startswith(f"file={my_ext.resolve() / 'style.css'}?")
    edit(my_ext / "javascript" / "my_ext.js", "1", "2")
    js = watcher.file("my-ext/javascript/my_ext.js")
    assert (js.outcome, js.asset, js.needs) == ("updated", "js", "reload_page")
    assert ui_gradio_extensions.reloads == before + 2  # later page loads get the new tags


def test_an_edit_during_a_generation_is_applied_after_it(webui: StandinWebui, my_ext: Path,
                                                        tmp_path: Path) -> None:
    from modules import shared

    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    shared.state.begin("txt2img")
    try:
        edit(my_ext / "my_ext_lib" / "greeting.py", '"hello "', '"later "')
        assert watcher.file("my-ext/my_ext_lib/greeting.py").outcome == "deferred"
        assert sys.modules["my_ext_lib.greeting"].greet("x") == "hello x"
    finally:
        shared.state.end()
    assert watcher.file("my-ext/my_ext_lib/greeting.py").outcome == "updated"
    assert sys.modules["my_ext_lib.greeting"].greet("x") == "later x"


def test_the_tab_lists_the_tracked_trees_and_the_modules_updated(webui: StandinWebui, my_ext: Path,
                                                                 tmp_path: Path) -> None:
    from hotreload_lib.page.server import status
    from hotreload_lib.page.ui import summary_html

    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    edit(my_ext / "my_ext_lib" / "greeting.py", '"hello "', '"hallo "')
    watcher.file("my-ext/my_ext_lib/greeting.py", "updated")
    summary = summary_html(status(sys.modules["hotreload_lib.host"].feed()))
    assert "<b>Developed live:</b> <code>my-ext</code>" in summary and "my_ext_lib.greeting ×1" in summary


def test_a_module_written_just_before_its_import_and_edited_at_once_is_updated(
        webui: StandinWebui, my_ext: Path, tmp_path: Path) -> None:
    """A code generator, `git checkout` or an assistant writes a module a moment before the
    extension first imports it (inside a callback, after tracking began), and it is saved again at
    once: the save applies, and every later one."""
    import importlib

    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    fresh_file = my_ext / "my_ext_lib" / "fresh.py"
    write(fresh_file, 'def made():\n    return "v1"\n')
    fresh = importlib.import_module("my_ext_lib.fresh")
    write(fresh_file, 'def made():\n    return "v2"\n')  # the same second, before any scan

    def applied_or_not(event: Any) -> bool:
        # The first write's own file event may be handled after the import: "nothing changed" then.
        return event.file == "my-ext/my_ext_lib/fresh.py" and (event.outcome != "updated" or bool(event.changed))

    event = watcher.next(applied_or_not)
    assert event.outcome == "updated" and fresh.made() == "v2", event.message
    edit(fresh_file, '"v2"', '"v3"')
    assert watcher.next(applied_or_not).outcome == "updated" and fresh.made() == "v3"


def test_preload_and_install_of_a_tracked_extension_never_run_again(
        webui: StandinWebui, my_ext: Path, tmp_path: Path) -> None:
    """The host keeps preload.py's module (A1111: script_loading.loaded_scripts), but runs the file
    only at its start: a save runs nothing, and the event says so."""
    from modules import script_loading

    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    preload = script_loading.loaded_scripts[str(my_ext / "preload.py")]
    assert preload.RUNS == ["preload"]
    edit(my_ext / "preload.py", 'RUNS = []\n', 'RUNS = []\nRUNS.append("saved")\n')
    event = watcher.file("my-ext/preload.py")
    assert (event.outcome, event.needs) == ("info", "restart")
    assert event.message == "preload.py runs only when the webui starts: nothing ran (restart the webui to apply it)"
    assert preload.RUNS == ["preload"]
    edit(my_ext / "install.py", "import launch\n", "raise SystemExit('ran')\n")
    event = watcher.file("my-ext/install.py")
    assert event.outcome == "info" and event.message.startswith("install.py runs only when the webui starts or")


def test_a_file_the_host_runs_as_two_modules_is_one_event_naming_both(
        webui: StandinWebui, my_ext: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from modules import script_loading

    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    path = my_ext / "scripts" / "my_ext.py"
    spec = importlib.util.spec_from_file_location("my_ext_scripts", path)
    assert spec is not None and spec.loader is not None
    imported = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "my_ext_scripts", imported)  # the same file imported as well
    spec.loader.exec_module(imported)
    script = script_loading.loaded_scripts[str(path)]

    edit(path, '"run v1, "', '"run v2, "')
    event = watcher.file("my-ext/scripts/my_ext.py")
    assert event.outcome == "updated" and set(event.modules) == {"my_ext.py", "my_ext_scripts"}
    assert [change["name"] for change in event.changed] in (["my_ext.py.MyScript.run"], ["my_ext_scripts.MyScript.run"])
    assert watcher.quiet(0.3) == []
    assert script.MyScript().run(None).startswith("run v2") and imported.MyScript().run(None).startswith("run v2")


def test_a_deleted_module_file_is_said_once_and_never_failing(webui: StandinWebui, my_ext: Path,
                                                             tmp_path: Path) -> None:
    """Seen on the real A1111: a deleted helper's 'cannot read it' error stayed on every page."""
    _live, watcher = start(webui, tmp_path, "--hot-reload-track", str(my_ext))
    reloader = sys.modules["hotreload_lib.reloader"].get_reloader()
    (my_ext / "my_ext_lib" / "greeting.py").unlink()
    deleted = watcher.file("my-ext/my_ext_lib/greeting.py")
    assert deleted.outcome == "info" and deleted.message.startswith("deleted: my_ext_lib.greeting keeps running")
    assert reloader.status()["failing"] == []
    assert sys.modules["my_ext_lib.greeting"].greet("x") == "hello x"
