"""A tracked extension's tab rebuilt in place (issue "change your extension's UI"): the stand-in serves
its page as A1111's create_ui builds it (tests/standin/webui/modules/ui.py), a real reloader and watchdog
observer follow the extension's files, and gradio's own HTTP API drives the page's events."""
from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_browser
from tests.conftest import EventWatcher, webui_events, write
from tests.standin.host import StandinWebui

GRADIO_4 = int(version("gradio").split(".")[0]) >= 4
TAB_SCRIPT = textwrap.dedent("""
    import gradio as gr

    from modules import script_callbacks
    from tab_lib.rows import greeting_row

    built = []


    def on_ui_tabs():
        built.append(1)
        with gr.Blocks(analytics_enabled=False) as tab:
            name = gr.Textbox(label="Name", value="world", elem_id="tab_ext_name")
            greeting_row(name)
        return [(tab, "Tab ext", "tab_ext")]


    script_callbacks.on_ui_tabs(on_ui_tabs)
""")
ROWS = textwrap.dedent("""
    import gradio as gr


    def greeting_row(name):
        out = gr.Textbox(label="Greeting", elem_id="tab_ext_greeting")
        button = gr.Button("Greet", elem_id="tab_ext_greet")
        button.click(fn=lambda who: "hello " + who, inputs=[name], outputs=[out])
""")
OTHER_TAB_SCRIPT = textwrap.dedent("""
    import gradio as gr

    from modules import script_callbacks

    built = []


    def on_ui_tabs():
        built.append(1)
        with gr.Blocks(analytics_enabled=False) as tab:
            gr.Textbox(label="Other", elem_id="other_tab_box")
        return [(tab, "Other tab", "other_tab")]


    script_callbacks.on_ui_tabs(on_ui_tabs)
""")


@pytest.fixture
def tab_ext(webui: StandinWebui) -> Iterator[Path]:
    folder = webui.webui_root / "extensions" / "tab-ext"
    write(folder / "scripts" / "tab_ext.py", TAB_SCRIPT)
    write(folder / "tab_lib" / "__init__.py", "")
    write(folder / "tab_lib" / "rows.py", ROWS)
    other = webui.webui_root / "extensions" / "other-tab"
    write(other / "scripts" / "other_tab.py", OTHER_TAB_SCRIPT)
    webui.extension_dirs[:0] = [folder, other]
    from modules import extensions

    extensions.extensions.extend([extensions.Extension("tab-ext", str(folder)),
                                  extensions.Extension("other-tab", str(other))])
    yield folder
    for name in [name for name in sys.modules if name.split(".")[0] == "tab_lib"]:
        del sys.modules[name]
    from modules import shared

    if shared.demo is not None:
        shared.demo.close()


def serve(webui: StandinWebui, tmp_path: Path, folder: Path) -> tuple[str, EventWatcher]:
    live = tmp_path / "live"
    live.mkdir(exist_ok=True)
    webui.preload(["--hot-reload-dir", str(live), "--hot-reload-track", str(folder)])
    url = webui.serve()
    return url, webui_events()


def edit(path: Path, old: str, new: str, *others: tuple[str, str]) -> None:
    """One save of `path`: `old` replaced by `new`, and each other (old, new) pair."""
    text = path.read_text()
    for before, after in ((old, new), *others):
        assert before in text
        text = text.replace(before, after)
    time.sleep(0.01)
    write(path, text)


def page_config(url: str) -> dict[str, Any]:
    return httpx.get(url + "config", timeout=10).json()


def labels(config: dict[str, Any]) -> list[str]:
    return [component["props"].get("label") or component["props"].get("value") for component in config["components"]]


def script_module(name: str) -> Any:
    from modules import script_loading

    [module] = [module for path, module in script_loading.loaded_scripts.items() if path.endswith(name)]
    return module


def click(url: str, config: dict[str, Any], elem_id: str, *inputs: Any) -> Any:
    """Fire the click event of the button `elem_id` as the page would, through gradio's own client."""
    from gradio_client import Client

    [button] = [c["id"] for c in config["components"] if c["props"].get("elem_id") == elem_id]
    [(index, dependency)] = [(index, dependency) for index, dependency in enumerate(config["dependencies"])
                             if button in [t[0] if isinstance(t, list) else t for t in dependency["targets"]]]
    return Client(url, verbose=False).predict(*inputs, fn_index=dependency.get("id", index))


def test_an_edited_tab_is_rebuilt_in_place_in_the_running_app(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path) -> None:
    url, watcher = serve(webui, tmp_path, tab_ext)
    app = webui.app
    assert "Tab ext" in labels(page_config(url))
    assert click(url, page_config(url), "tab_ext_greet", "you") == "hello you"

    edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext", "tab_ext"', '"Tab ext v2", "tab_ext"')
    rebuilt = watcher.file("tab-ext/scripts/tab_ext.py")
    assert (rebuilt.outcome, rebuilt.needs) == ("updated", "reload_now"), rebuilt
    assert "rebuilt tab 'Tab ext v2' in place" in rebuilt.message
    # gradio 4: open pages re-render the tab in place; gradio 3: they reload.
    assert rebuilt.rerender == (("tab_tab_ext",) if GRADIO_4 else ())
    assert rebuilt.ui == (page_config(url)["hot_reload_ui"] if GRADIO_4 else 0)
    config = page_config(url)
    assert "Tab ext v2" in labels(config) and "Tab ext" not in labels(config)

    # A helper the callback calls: the tab is rebuilt too, its new button works, the old one is gone.
    edit(tab_ext / "tab_lib" / "rows.py", '"hello "', '"bonjour "')
    edit(tab_ext / "tab_lib" / "rows.py", '    button = gr.Button("Greet", elem_id="tab_ext_greet")\n',
         '    button = gr.Button("Greet", elem_id="tab_ext_greet")\n'
         '    shout = gr.Button("Shout", elem_id="tab_ext_shout")\n'
         '    shout.click(fn=lambda who: who.upper() + "!", inputs=[name], outputs=[out])\n')
    rows_rebuilt = watcher.next(lambda e: e.file == "tab-ext/tab_lib/rows.py" and "Shout" in json.dumps(
        page_config(url)), timeout=10)
    assert not any("keeps the old code" in note for note in rows_rebuilt.notes), rows_rebuilt.notes
    config = page_config(url)
    assert labels(config).count("Greet") == 1 and "Shout" in labels(config)
    assert click(url, config, "tab_ext_shout", "you") == "YOU!"
    assert click(url, config, "tab_ext_greet", "you") == "bonjour you"

    assert webui.app is app and webui.apps_created == 1, "no server restart, no new app"
    assert len(script_module("other_tab.py").built) == 1, "no other extension's UI code ran"
    assert "Other tab" in labels(config) and "txt2img" in labels(config)
    # gradio 4 describes again only the rebuilt tab's components: the config is gradio's own.
    from modules import shared

    full = shared.demo.get_config_file()
    assert as_compared(shared.demo.config, full) == as_compared(full, full)


def as_compared(config: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """A page config's items that get_config_file() makes (launch adds others), components in id order."""
    return {**{key: config.get(key) for key in full},
            "components": sorted(config["components"], key=lambda component: component["id"])}


def test_an_extension_with_page_javascript_has_its_rebuilt_tab_shown_by_a_page_load(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path) -> None:
    """Its script ran at the page's load against the old tab's elements: only a page load runs it again."""
    write(tab_ext / "javascript" / "tab_ext.js", "onUiLoaded(() => {});\n")
    _url, watcher = serve(webui, tmp_path, tab_ext)
    edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext", "tab_ext"', '"Tab ext v2", "tab_ext"')
    rebuilt = watcher.file("tab-ext/scripts/tab_ext.py")
    assert (rebuilt.needs, rebuilt.rerender) == ("reload_now", ())


def test_a_tab_whose_builder_raises_stays_as_it_was(webui: StandinWebui, tab_ext: Path, tmp_path: Path) -> None:
    url, watcher = serve(webui, tmp_path, tab_ext)
    before = page_config(url)
    edit(tab_ext / "tab_lib" / "rows.py", '    out = gr.Textbox(label="Greeting", elem_id="tab_ext_greeting")\n',
         '    out = gr.Textbox(label="Greeting", elem_id="tab_ext_greeting")\n    1 / 0\n')
    failed = watcher.file("tab-ext/tab_lib/rows.py")
    assert failed.outcome == "error" and "rebuilding its UI failed" in failed.message
    assert "ZeroDivisionError" in failed.message and failed.error is not None and failed.error.line == 7
    assert labels(page_config(url)) == labels(before)
    assert click(url, page_config(url), "tab_ext_greet", "you") == "hello you"


def test_a_default_pinned_by_ui_config_is_named(webui: StandinWebui, tab_ext: Path, tmp_path: Path) -> None:
    url, watcher = serve(webui, tmp_path, tab_ext)
    edit(tab_ext / "scripts" / "tab_ext.py", 'value="world"', 'value="everyone"')
    rebuilt = watcher.file("tab-ext/scripts/tab_ext.py")
    assert rebuilt.needs == "reload_now"
    assert any("ui-config.json keeps tab_ext/Name/value = 'world'" in note for note in rebuilt.notes), rebuilt.notes
    [name] = [c for c in page_config(url)["components"] if c["props"].get("elem_id") == "tab_ext_name"]
    assert name["props"]["value"] == "everyone"


def test_a_rebuild_asked_during_a_generation_waits_for_its_end(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path) -> None:
    from modules import shared

    url, watcher = serve(webui, tmp_path, tab_ext)
    shared.state.begin("txt2img")
    try:
        edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext", "tab_ext"', '"Tab ext v2", "tab_ext"')
        assert watcher.file("tab-ext/scripts/tab_ext.py").outcome == "deferred"
        assert len(script_module("tab_ext.py").built) == 1 and "Tab ext" in labels(page_config(url))
    finally:
        shared.state.end()
    assert watcher.file("tab-ext/scripts/tab_ext.py").needs == "reload_now"
    assert "Tab ext v2" in labels(page_config(url))


SCRIPT_UI = textwrap.dedent("""
    import gradio as gr

    from modules import script_callbacks, scripts, shared


    class Strength(scripts.Script):
        def title(self):
            return "Strength"

        def show(self, is_img2img):
            return scripts.AlwaysVisible

        def ui(self, is_img2img):
            strength = gr.Slider(label="Strength", minimum=0, maximum=10, value=3, elem_id="strength")
            return [strength]

        def process(self, p, *args):
            p.extra_generation_params["Strength"] = list(args)


    class After(scripts.Script):
        def show(self, is_img2img):
            return scripts.AlwaysVisible

        def ui(self, is_img2img):
            return [gr.Checkbox(label="After", value=True, elem_id="after")]

        def process(self, p, *args):
            p.extra_generation_params["After"] = list(args)


    SECTION = ("tab_ext", "Tab ext")


    def on_ui_settings():
        shared.opts.add_option("strength_default", shared.OptionInfo(3, "Default strength", section=SECTION))


    script_callbacks.on_ui_settings(on_ui_settings)
""")


def generate(url: str, *values: Any) -> str:
    return click(url, page_config(url), "txt2img_generate", *values)


@pytest.mark.parametrize("runner_keeps_inputs", [True, False], ids=["a1111", "sdnext"])
def test_a_script_ui_is_rebuilt_in_place_and_its_new_controls_reach_process(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        runner_keeps_inputs: bool) -> None:
    """Also in SD.Next's shape, where the runner keeps neither its inputs nor each script's controls:
    the old controls are found where the Generate button takes them."""
    from modules import scripts

    monkeypatch.setattr(scripts.ScriptRunner, "keeps_inputs", runner_keeps_inputs)
    write(tab_ext / "scripts" / "tab_ext_script.py", SCRIPT_UI)
    url, watcher = serve(webui, tmp_path, tab_ext)
    assert generate(url, "a cat", None, 5, False) == "a cat, Strength: [5], After: [False]"

    edit(tab_ext / "scripts" / "tab_ext_script.py", '        return [strength]\n',
         '        steps = gr.Slider(label="Steps", minimum=1, maximum=50, value=20, elem_id="steps")\n'
         '        return [strength, steps]\n')
    rebuilt = watcher.file("tab-ext/scripts/tab_ext_script.py")
    assert (rebuilt.outcome, rebuilt.needs) == ("updated", "reload_now"), rebuilt
    assert "rebuilt Strength.ui in txt2img in place" in rebuilt.message
    config = page_config(url)
    assert "Steps" in labels(config) and labels(config).count("Strength") == 1
    # The Generate button takes the new control, and the script after it keeps its own value.
    assert generate(url, "a cat", None, 5, 42, False) == "a cat, Strength: [5, 42], After: [False]"
    strength, after = scripts.scripts_txt2img.alwayson_scripts
    assert (strength.args_from, strength.args_to, after.args_from, after.args_to) == (1, 3, 3, 4)
    assert (scripts.scripts_txt2img.inputs == [None]) is not runner_keeps_inputs
    assert webui.apps_created == 1


def test_settings_follow_an_on_ui_settings_edit_in_place(webui: StandinWebui, tab_ext: Path, tmp_path: Path) -> None:
    from modules import shared

    write(tab_ext / "scripts" / "tab_ext_script.py", SCRIPT_UI)
    url, watcher = serve(webui, tmp_path, tab_ext)
    assert "Default strength" in labels(page_config(url))

    edit(tab_ext / "scripts" / "tab_ext_script.py", 'shared.OptionInfo(3, "Default strength", section=SECTION)',
         'shared.OptionInfo(4, "Strength by default", section=SECTION))\n'
         '    shared.opts.add_option("strength_note", shared.OptionInfo("none", "A note on strength", section=SECTION)')
    changed = watcher.file("tab-ext/scripts/tab_ext_script.py")
    assert (changed.outcome, changed.needs) == ("updated", "reload_now"), changed
    assert "setting strength_note (new)" in changed.message and "setting strength_default (label)" in changed.message
    config = page_config(url)
    assert "Strength by default" in labels(config) and "A note on strength" in labels(config)
    assert shared.opts.strength_default == 4, "left alone by the user: it takes the new default"
    assert len(script_module("tab_ext.py").built) == 1, "the tab's builder did not run"

    # The Apply button takes the new option's component too, and sets it.
    from gradio_client import Client

    [submit] = [c["id"] for c in config["components"] if c["props"].get("elem_id") == "settings_submit"]
    [(index, dependency)] = [(index, d) for index, d in enumerate(config["dependencies"])
                             if submit in [t[0] if isinstance(t, list) else t for t in d["targets"]]]
    values = {c["id"]: c["props"].get("value") for c in config["components"]}
    [note] = [c["id"] for c in config["components"] if c["props"].get("elem_id") == "setting_strength_note"]
    values[note] = "gentle"
    Client(url, verbose=False).predict(*[values[i] for i in dependency["inputs"]], fn_index=dependency.get("id", index))
    assert shared.opts.strength_note == "gentle"

    # Every page load refreshes the settings' components (the host's demo.load): the new one with them,
    # so a page opened now shows the value saved, and its next Apply keeps it.
    config = page_config(url)
    [(load, outputs)] = [(d.get("id", i), d["outputs"]) for i, d in enumerate(config["dependencies"])
                         if note in d["outputs"] and (d.get("trigger") == "load" or (d["targets"] and all(
                             isinstance(t, list) and t[1] == "load" for t in d["targets"])))]
    refreshed = httpx.post(url + "run/predict", json={"fn_index": load, "data": [], "session_hash": "page"},
                           timeout=10).json()["data"]
    assert refreshed[outputs.index(note)]["value"] == "gentle"


def test_a_new_settings_section_waits_for_reload_ui(webui: StandinWebui, tab_ext: Path, tmp_path: Path) -> None:
    """A section the Settings page does not have yet: only the host's next build makes its tab."""
    from modules import shared

    write(tab_ext / "scripts" / "tab_ext_script.py", SCRIPT_UI)
    _url, watcher = serve(webui, tmp_path, tab_ext)
    edit(tab_ext / "scripts" / "tab_ext_script.py", 'section=SECTION))',
         'section=SECTION))\n    shared.opts.add_option("other", shared.OptionInfo(1, "Other", section=("new", "N")))')
    changed = watcher.file("tab-ext/scripts/tab_ext_script.py")
    assert (changed.outcome, changed.needs) == ("updated", "reload_ui")
    assert any(note.startswith("on_ui_settings built the page: Reload UI") for note in changed.notes)
    assert "other" not in shared.opts.data_labels, "the options stay as the page shows them"


# -- in a real page (headless Chromium) ------------------------------------------------------------
browser = test_browser.browser  # the page fixtures, shared with the page's own tests
open_page = test_browser.open_page


@pytest.mark.browser
def test_the_open_page_shows_the_rebuilt_tab_and_keeps_the_typed_prompt(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path, open_page: Any) -> None:
    url, _watcher = serve(webui, tmp_path, tab_ext)
    page = open_page(url)
    page.fill("#txt2img_prompt textarea", "a lighthouse at dusk")

    edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext", "tab_ext"', '"Tab ext v2", "tab_ext"')
    edit(tab_ext / "tab_lib" / "rows.py", '    button = gr.Button("Greet", elem_id="tab_ext_greet")\n',
         '    button = gr.Button("Greet", elem_id="tab_ext_greet")\n'
         '    shout = gr.Button("Shout", elem_id="tab_ext_shout")\n'
         '    shout.click(fn=lambda who: who.upper() + "!", inputs=[name], outputs=[out])\n')
    page.locator("button:text-is('Tab ext v2')").wait_for()
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value === 'a lighthouse at dusk'")

    page.locator("button:text-is('Tab ext v2')").click()  # gradio 4 builds a tab's content when it is shown
    page.locator("#tab_ext_shout").wait_for()  # the second save's rebuild
    page.fill("#tab_ext_name textarea", "you")
    page.click("#tab_ext_shout")
    page.wait_for_function("() => document.querySelector('#tab_ext_greeting textarea')?.value === 'YOU!'")
    assert webui.apps_created == 1, "no server restart"
    assert len(script_module("other_tab.py").built) == 1, "no other extension's UI code ran"


@pytest.mark.browser
@pytest.mark.skipif(not GRADIO_4, reason="gradio 3 shows a rebuilt tab through a page load")
def test_on_gradio_4_the_open_page_re_renders_the_tab_without_a_page_load(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path, open_page: Any) -> None:
    url, _watcher = serve(webui, tmp_path, tab_ext)
    page = open_page(url)
    page.evaluate("() => { window.loadedOnce = true; }")  # a page load would drop it
    page.fill("#txt2img_prompt textarea", "a lighthouse at dusk")
    page.locator("button:text-is('Tab ext')").click()
    page.fill("#tab_ext_name textarea", "typed in the tab")

    edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext", "tab_ext"', '"Tab ext v2", "tab_ext"')
    page.locator("button.selected:text-is('Tab ext v2')").wait_for()
    toast = page.locator("#hot-reload-toasts .hot-reload-toast", has_text="UI rebuilt")
    toast.wait_for()
    page.wait_for_function("() => document.querySelector('#tab_ext_name textarea').value === 'typed in the tab'")

    # Twice: the second rebuild's events must not take the ids the page knew for the first's.
    for shout in ("Shout", "Shout again"):
        edit(tab_ext / "tab_lib" / "rows.py", '    button = gr.Button("Greet", elem_id="tab_ext_greet")\n',
             '    button = gr.Button("Greet", elem_id="tab_ext_greet")\n'
             f'    shout = gr.Button("{shout}", elem_id="tab_ext_shout")\n'
             '    shout.click(fn=lambda who: who.upper() + "!", inputs=[name], outputs=[out])\n')
        page.locator(f"#tab_ext_shout:text-is('{shout}')").wait_for()
        page.fill("#tab_ext_name textarea", shout)
        page.click("#tab_ext_shout")
        page.wait_for_function(f"() => document.querySelector('#tab_ext_greeting textarea').value === "
                               f"'{shout.upper()}!'")
        page.click("#tab_ext_greet")  # the handlers of the components made again work too
        page.wait_for_function(f"() => document.querySelector('#tab_ext_greeting textarea').value === "
                               f"'hello {shout}'")
        edit(tab_ext / "tab_lib" / "rows.py", f'    shout = gr.Button("{shout}", elem_id="tab_ext_shout")\n'
             '    shout.click(fn=lambda who: who.upper() + "!", inputs=[name], outputs=[out])\n', "")
        page.locator("#tab_ext_shout").wait_for(state="detached")

    # A Tabs inside the tab keeps its selected tab.
    edit(tab_ext / "scripts" / "tab_ext.py", '        greeting_row(name)\n',
         '        greeting_row(name)\n        with gr.Tabs():\n'
         '            with gr.Tab("First"):\n                gr.Markdown("first")\n'
         '            with gr.Tab("Second"):\n                gr.Textbox(label="Note", elem_id="tab_ext_note")\n')
    page.locator("button:text-is('Second')").dispatch_event("click")  # under the toasts
    edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext v2", "tab_ext"', '"Tab ext v3", "tab_ext"')
    page.locator("button.selected:text-is('Tab ext v3')").wait_for()
    page.locator("button.selected:text-is('Second')").wait_for()

    assert page.evaluate("() => window.loadedOnce === true"), "the page was not loaded again"
    assert page.evaluate("() => document.querySelector('#txt2img_prompt textarea').value") == "a lighthouse at dusk"
    assert page.locator("#tab_ext_name").count() == 1, "the old tab's components are gone"
    assert webui.apps_created == 1, "no server restart"
    assert len(script_module("other_tab.py").built) == 1, "no other extension's UI code ran"


@pytest.mark.browser
@pytest.mark.skipif(not GRADIO_4, reason="gradio 3 shows a rebuilt tab through a page load")
def test_on_gradio_4_a_re_render_that_gets_no_answer_becomes_a_page_reload_keeping_what_was_typed(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path, open_page: Any) -> None:
    """Never a page left showing the old tab: the server's answer lost, the page loads the new one."""
    url, _watcher = serve(webui, tmp_path, tab_ext)
    page = open_page(url)
    page.evaluate("() => { window.loadedOnce = true; hotReload.renderMs = 1000; }")
    page.fill("#txt2img_prompt textarea", "a lighthouse at dusk")
    page.route("**/queue/join**", lambda route: route.abort())  # no event of this page reaches the server

    edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext", "tab_ext"', '"Tab ext v2", "tab_ext"')
    page.wait_for_function("() => window.loadedOnce === undefined")  # loaded again
    page.locator("button:text-is('Tab ext v2')").wait_for()
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value === 'a lighthouse at dusk'")


@pytest.mark.browser
def test_a_renamed_tab_stays_selected_and_the_toast_names_a_pinned_default(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path, open_page: Any) -> None:
    url, _watcher = serve(webui, tmp_path, tab_ext)
    page = open_page(url)
    page.locator("button:text-is('Tab ext')").click()
    page.locator("#tab_ext_name textarea").wait_for()
    # One save: two saves may be two rebuilds, and on a loaded machine the second one lands while the page
    # reloads into the first (its toast then gives way to "rebuilt while this page loaded").
    edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext", "tab_ext"', '"Tab ext v2", "tab_ext"',
         ('value="world"', 'value="everyone"'))
    page.locator("button:text-is('Tab ext v2')").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('button.selected')]"
                           ".some(button => button.textContent.trim() === 'Tab ext v2')")
    page.wait_for_function("() => document.querySelector('#tab_ext_name textarea') && "
                           "document.querySelector('#tab_ext_name textarea').value === 'everyone'")
    # Each save's toast (on gradio 3 the first one's page is gone before it shows).
    toast = page.locator("#hot-reload-toasts .hot-reload-toast", has_text="UI rebuilt").last
    toast.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('#hot-reload-toasts .hot-reload-toast')]"
                           ".some(toast => toast.textContent.includes('ui-config.json keeps tab_ext/Name/value'))")


@pytest.mark.browser
def test_a_slider_added_to_a_script_ui_reaches_process_from_the_page(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path, open_page: Any) -> None:
    write(tab_ext / "scripts" / "tab_ext_script.py", SCRIPT_UI)
    url, _watcher = serve(webui, tmp_path, tab_ext)
    page = open_page(url)
    page.fill("#txt2img_prompt textarea", "a cat")
    edit(tab_ext / "scripts" / "tab_ext_script.py", '        return [strength]\n',
         '        steps = gr.Slider(label="Steps", minimum=1, maximum=50, value=20, elem_id="steps")\n'
         '        return [strength, steps]\n')
    page.locator("#steps input[type=number]").wait_for()
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value === 'a cat'")
    page.fill("#steps input[type=number]", "42")
    page.locator("#steps input[type=number]").dispatch_event("input")
    page.click("#txt2img_generate")
    page.wait_for_function(
        "() => document.querySelector('#txt2img_result textarea').value === 'a cat, Strength: [3, 42], After: [True]'")


@pytest.mark.browser
def test_a_page_that_was_loading_during_a_rebuild_reloads_into_it(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path, browser: Any) -> None:
    """Its stream says hello after the rebuild's event: no event is news to it, the hello's page build is."""
    url, watcher = serve(webui, tmp_path, tab_ext)
    context = browser.new_context()
    try:
        page = context.new_page()
        held: list[Any] = []

        def hold(route: Any) -> None:
            held.append(route)

        page.route("**/hot-reload/events**", hold)  # the page loads; its stream waits
        page.goto(url)
        page.fill("#txt2img_prompt textarea", "typed while it loaded")
        edit(tab_ext / "scripts" / "tab_ext.py", '"Tab ext", "tab_ext"', '"Tab ext v2", "tab_ext"')
        assert watcher.file("tab-ext/scripts/tab_ext.py").needs == "reload_now"
        for route in held:
            route.continue_()
        page.unroute("**/hot-reload/events**", hold)
        page.locator("button:text-is('Tab ext v2')").wait_for(timeout=20_000)
        page.wait_for_function(
            "() => document.querySelector('#txt2img_prompt textarea').value === 'typed while it loaded'")
    finally:
        context.close()


def test_a_script_hook_method_added_after_a_generation_runs_in_the_next(
        webui: StandinWebui, tab_ext: Path, tmp_path: Path) -> None:
    """The host works out once which scripts override a hook (A1111's ScriptRunner.callback_map): an
    update makes it work that out again (seen on the real A1111: an added before_process never ran)."""
    write(tab_ext / "scripts" / "tab_ext_script.py", SCRIPT_UI)
    url, watcher = serve(webui, tmp_path, tab_ext)
    assert generate(url, "a cat", None, 5, False) == "a cat, Strength: [5], After: [False]"
    edit(tab_ext / "scripts" / "tab_ext_script.py", '''    def process(self, p, *args):
        p.extra_generation_params["Strength"] = list(args)
''', '''    def process(self, p, *args):
        p.extra_generation_params["Strength"] = list(args)

    def before_process(self, p, *args):
        p.extra_generation_params["Before"] = list(args)
''')
    assert watcher.file("tab-ext/scripts/tab_ext_script.py").outcome == "updated"
    assert generate(url, "a cat", None, 5, False) == "a cat, Before: [5], Strength: [5], After: [False]"


def test_a_builder_run_for_a_splice_makes_no_app_and_leaves_other_threads_theirs() -> None:
    """gradio makes a FastAPI app for every Blocks that ends as a root: most of a tab's rebuild time."""
    import threading

    import gradio as gr
    from gradio.routes import App

    from hotreload_lib.page.pagesplice import no_apps_made

    held = App.__dict__["create_app"]
    elsewhere: list[Any] = []
    with no_apps_made():
        with gr.Blocks(analytics_enabled=False) as here:
            gr.Textbox()

        def build_elsewhere() -> None:
            with gr.Blocks(analytics_enabled=False) as blocks:
                gr.Textbox()
            elsewhere.append(blocks)

        thread = threading.Thread(target=build_elsewhere)
        thread.start()
        thread.join()
    assert here.app is None and elsewhere[0].app is not None
    assert App.__dict__["create_app"] is held

    def patched(*args: Any, **kwargs: Any) -> Any:  # another extension's, made while a builder runs
        return None

    try:
        with no_apps_made():
            App.create_app = staticmethod(patched)
        assert App.create_app is patched, "left in place"
    finally:
        App.create_app = held
