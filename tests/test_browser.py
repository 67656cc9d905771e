"""The page in a real browser: Debian's Chromium, driven by Playwright, on the demo page (built like
the webui's: a script.js-like file defining onUiLoaded, our JS after it, our CSS before </body>)
served by gradio 3.41 on 127.0.0.1, with a real reloader watching a temporary folder."""
from __future__ import annotations

import importlib
import json
import os
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from hotreload_lib.demo import DemoPage, DemoWebui
from hotreload_lib.events import EventLog
from hotreload_lib.page.server import add_routes
from hotreload_lib.page.stream import GradioServer
from hotreload_lib.patch.registry import PatchRegistry
from hotreload_lib.reloader import Reloader
from tests.conftest import EventWatcher, feed_of, write

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
# Long-lived toasts, so that a test counts every toast the page showed.
KEEP_TOASTS = "window.opts = {hot_reload_toast_seconds: 600};"
WAIT_MS = 20_000

GOOD = textwrap.dedent("""
    import sys
    from hotreload_lib import original, replace

    demo = sys.modules["hotreload_lib.demo"]

    def greet(name):
        return "{greeting}, " + name

    replace(demo, "greet", greet)
""")
SDNEXT_PAGE = """
    window.subpath = "/sdnext-subpath";
    window.hotReloadTestFetched = [];
    window.authFetch = function(url, options) {
        window.hotReloadTestFetched.push(url);
        return fetch(url, options);
    };
    var hotReloadTestReady = [];
    window.onUiReady = function(callback) { hotReloadTestReady.push(callback); };
    document.addEventListener("DOMContentLoaded", function() {
        setTimeout(function() { hotReloadTestReady.forEach(function(callback) { callback(); }); }, 0);
    });
"""
BROKEN = GOOD.replace("replace(demo", "missing_name + 1\nreplace(demo")  # NameError on line 10


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("HOT_RELOAD_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def launch_chromium(playwright: Any) -> Any:
    """Chromium, tried twice: on a loaded machine one start now and then crashes, and this module's
    tests share the browser, so one crash would be an error in each of them. Said as a warning;
    a second failure is a real one."""
    try:
        return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    except PlaywrightError as error:
        warnings.warn(f"Chromium did not start, trying once more: {error}", stacklevel=2)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


@pytest.fixture
def served(make_reloader: Callable[..., Any], serve_page: Callable[..., DemoPage]) -> tuple[DemoPage, EventWatcher]:
    reloader, watcher = make_reloader()
    return serve_page(feed_of(reloader)), watcher


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def open_(url: str, init_script: str = KEEP_TOASTS, theme: str = "light", compact: bool = False,
              viewport: tuple[int, int] = (1000, 720)) -> Any:
        """`compact`: the page as users get it, bursts grouped and older toasts folded; without
        it each event keeps a toast of its own in view, so that a test can count them."""
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url + ("?__theme=dark" if theme == "dark" else ""))
        # The stream said hello: from here on every event is the page's to show.
        page.wait_for_function("() => typeof hotReload !== 'undefined' && hotReload.lastSeq !== null")
        if not compact:
            page.evaluate("hotReload.burstMs = 0; hotReload.maxVisible = 100; hotReload.layout()")
        return page

    yield open_
    for context in contexts:
        context.close()


def toasts(page: Any, selector: str = ".hot-reload-toast") -> list[str]:
    return page.locator(f"#hot-reload-toasts {selector}").all_inner_texts()


def wait_toast(page: Any, selector: str, text: str) -> Any:
    toast = page.locator(f"#hot-reload-toasts {selector}", has_text=text)
    toast.first.wait_for(state="visible")
    return toast


def test_save_error_fix_delete_each_shows_its_toast(served: tuple[DemoPage, EventWatcher], live_dir: Path,
                                                     open_page: Callable[..., Any]) -> None:
    demo, watcher = served
    write(live_dir / "already_there.py", "x = 1\n")
    watcher.file("already_there.py", "ok")
    page = open_page(demo.url)
    assert toasts(page) == [], "a fresh page replayed old events as toasts"

    tweak = live_dir / "tweak.py"
    write(tweak, GOOD.format(greeting="Howdy"))
    success = wait_toast(page, ".hot-reload-success", "Reloaded tweak.py")
    assert "hotreload_lib.demo.greet (in-place)" in success.inner_text()
    page.click("#hot_reload_demo_greet")
    page.wait_for_function("() => document.querySelector('#hot_reload_demo_answer textarea').value.startsWith('Howdy')")

    write(tweak, BROKEN.format(greeting="Howdy"))
    error = wait_toast(page, ".hot-reload-error", "Error in tweak.py")
    assert "NameError: name 'missing_name' is not defined" in error.inner_text()
    assert "tweak.py:10" in error.inner_text()
    assert not error.locator(".hot-reload-toast-traceback").is_visible()
    error.locator("summary").click()
    assert 'tweak.py", line 10' in error.locator(".hot-reload-toast-traceback").inner_text()

    write(tweak, GOOD.format(greeting="Hi"))
    page.locator("#hot-reload-toasts .hot-reload-success", has_text="Reloaded tweak.py").nth(1).wait_for()
    assert toasts(page, ".hot-reload-error") == [], "the fixed file's error toast should go"

    tweak.unlink()
    removed = wait_toast(page, ".hot-reload-toast", "Removed tweak.py")
    assert "Restored: hotreload_lib.demo.greet" in removed.inner_text()


def test_an_error_when_a_replacement_is_called_says_so_and_that_it_stays(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    demo, watcher = served
    page = open_page(demo.url)
    write(live_dir / "greets_badly.py", GOOD.replace('return "{greeting}, " + name', "raise LookupError(name)"))
    watcher.file("greets_badly.py", "ok")
    page.click("#hot_reload_demo_greet")
    toast = wait_toast(page, ".hot-reload-error", "Failed when called: greets_badly.py")
    text = toast.inner_text()
    assert "raised in your replacement of hotreload_lib.demo.greet: LookupError" in text
    assert "the replacement stays active" in text and "Error in" not in text
    (live_dir / "greets_badly.py").unlink()
    watcher.file("greets_badly.py", "removed")


def test_html_in_a_file_name_and_a_message_shows_as_text(served: tuple[DemoPage, EventWatcher], live_dir: Path,
                                                           open_page: Callable[..., Any]) -> None:
    demo, _watcher = served
    page = open_page(demo.url)
    name = "<img src=x onerror=window.hotReloadPwned=1>.py"
    write(live_dir / name, "raise ValueError('<img src=y onerror=window.hotReloadPwned=2> in a message')\n")
    toast = wait_toast(page, ".hot-reload-error", f"Error in {name}")
    assert "ValueError: <img src=y onerror=window.hotReloadPwned=2> in a message" in toast.inner_text()
    toast.locator("summary").click()
    assert toast.locator("img").count() == 0
    assert page.locator("#hot-reload-toasts img").count() == 0
    assert page.evaluate("() => window.hotReloadPwned") is None


def test_an_event_missed_while_the_stream_was_down_shows_exactly_once(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    """A missed UI rebuilt on the server (needs "reload_now") may be old news: its toast offers the
    reload, the page does not reload by itself."""
    demo, watcher = served
    page = open_page(demo.url)
    write(live_dir / "before.py", "x = 1\n")
    wait_toast(page, ".hot-reload-success", "Reloaded before.py")
    page.evaluate("window.hotReloadTestSamePage = true")

    demo.close()  # as "Reload UI" does: the server stops, the page's stream drops
    write(live_dir / "while_down.py", "x = 2\n")
    watcher.file("while_down.py", "ok")
    watcher.events.publish(file="my-ext/scripts/my_ext.py", path="/my-ext/scripts/my_ext.py", outcome="updated",
                           message="my-ext: the Inputs tab rebuilt", needs="reload_now")
    demo.launch()  # a new app on the same port; the page reconnects by itself
    wait_toast(page, ".hot-reload-success", "Reloaded while_down.py")

    # Events arrive in order: once this one shows, any replay of the others would have shown too.
    write(live_dir / "after.py", "x = 3\n")
    wait_toast(page, ".hot-reload-success", "Reloaded after.py")
    titles = [text.splitlines()[0] for text in toasts(page)]
    assert titles == ["Reloaded before.py", "Reloaded while_down.py", "UI rebuilt: my-ext: the Inputs tab rebuilt",
                      "Reloaded after.py"]
    rebuilt = wait_toast(page, ".hot-reload-info", "UI rebuilt")
    expect(rebuilt.locator(".hot-reload-action")).to_have_text("Reload page")
    assert page.evaluate("() => window.hotReloadTestSamePage") is True


def test_events_missed_beyond_the_history_show_one_notice_and_the_page_catches_up(
        live_dir: Path, registry: PatchRegistry, serve_page: Callable[..., DemoPage],
        open_page: Callable[..., Any]) -> None:
    """Twice the stream is down while more events happen than the server keeps (5 here): each
    reconnection says so twice (the hello's `dropped` and a `gap` message), and the page shows one
    notice in all. The error toast of a file fixed meanwhile goes (the page asked the status);
    that of a file still failing stays."""
    reloader = Reloader(live_dir, EventLog(size=5), registry)
    reloader.start()
    try:
        watcher = EventWatcher(reloader.events)
        demo = serve_page(feed_of(reloader))
        page = open_page(demo.url)
        write(live_dir / "fixed_meanwhile.py", "1 / 0\n")
        write(live_dir / "still_broken.py", "1 / 0\n")
        wait_toast(page, ".hot-reload-error", "Error in fixed_meanwhile.py")
        wait_toast(page, ".hot-reload-error", "Error in still_broken.py")
        for outage in range(2):
            demo.close()
            if outage == 0:
                write(live_dir / "fixed_meanwhile.py", "x = 1\n")
                watcher.file("fixed_meanwhile.py", "ok")
            for number in range(8):
                write(live_dir / f"while_down_{outage}_{number}.py", "x = 1\n")
                watcher.file(f"while_down_{outage}_{number}.py", "ok")
            demo.launch()  # the page reconnects by itself
            wait_toast(page, ".hot-reload-success", f"Reloaded while_down_{outage}_7.py")
        expect(page.locator("#hot-reload-toasts .hot-reload-error", has_text="fixed_meanwhile.py")).to_have_count(0)
        notices = toasts(page, ".hot-reload-missed")
        assert len(notices) == 1 and notices[0].endswith("Some events were missed — see the Hot Reload tab."), notices
        assert [text.splitlines()[0] for text in toasts(page, ".hot-reload-error")] == ["Error in still_broken.py"]
    finally:
        reloader.stop()


def test_success_toasts_can_be_switched_off_errors_still_show(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    demo, _watcher = served
    page = open_page(demo.url, init_script="window.opts = {hot_reload_success_toasts: false};")
    write(live_dir / "quiet.py", "x = 1\n")
    write(live_dir / "loud.py", "1 / 0\n")
    wait_toast(page, ".hot-reload-error", "Error in loud.py")
    assert toasts(page, ".hot-reload-success") == []


def test_short_lived_toasts_go_after_the_set_duration_errors_stay(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    demo, _watcher = served
    page = open_page(demo.url, init_script="window.opts = {hot_reload_toast_seconds: 2};")
    write(live_dir / "broken.py", "1 / 0\n")
    wait_toast(page, ".hot-reload-error", "Error in broken.py")
    write(live_dir / "fine.py", "x = 1\n")
    wait_toast(page, ".hot-reload-success", "Reloaded fine.py")
    page.locator("#hot-reload-toasts .hot-reload-success").wait_for(state="detached")
    assert len(toasts(page, ".hot-reload-error")) == 1
    page.locator("#hot-reload-toasts .hot-reload-toast-close").click()
    assert toasts(page) == []


def test_toasts_beyond_three_fold_behind_a_count_and_dismiss_all_clears_them(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    demo, _watcher = served
    page = open_page(demo.url, compact=True)
    for number in range(5):
        write(live_dir / f"broken_{number}.py", "1 / 0\n")
        wait_toast(page, ".hot-reload-error", f"Error in broken_{number}.py")
    visible = page.locator("#hot-reload-toasts .hot-reload-toast:visible .hot-reload-toast-title")
    expect(visible).to_have_text([f"Error in broken_{number}.py" for number in (2, 3, 4)])
    more = page.locator("#hot-reload-toasts .hot-reload-more")
    expect(more).to_have_text("+2 more")
    more.click()
    expect(visible).to_have_count(5)
    expect(more).to_have_text("Show fewer")
    page.locator("#hot-reload-toasts .hot-reload-dismiss-all").click()
    expect(page.locator("#hot-reload-toasts .hot-reload-toast")).to_have_count(0)
    expect(page.locator("#hot-reload-toasts .hot-reload-bar")).to_be_hidden()


def test_a_burst_of_saves_is_one_toast(served: tuple[DemoPage, EventWatcher], live_dir: Path,
                                       open_page: Callable[..., Any]) -> None:
    """Saves of several files at once (a checkout, a search and replace); an error still stands alone."""
    demo, _watcher = served
    page = open_page(demo.url, compact=True)
    for number in range(8):
        write(live_dir / f"file_{number}.py", f"x = {number}\n")
    write(live_dir / "broken.py", "1 / 0\n")
    grouped = wait_toast(page, ".hot-reload-success", "8 files changed")
    assert "Reloaded file_0.py" in grouped.inner_text() and "and 2 more" in grouped.inner_text()
    wait_toast(page, ".hot-reload-error", "Error in broken.py")
    expect(page.locator("#hot-reload-toasts .hot-reload-toast")).to_have_count(2)


def test_a_page_opened_after_an_error_shows_what_fails_now(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    demo, watcher = served
    write(live_dir / "broken.py", "x = 1\n\n1 / 0\n")
    watcher.file("broken.py", "error")
    write(live_dir / "was_broken.py", "1 / 0\n")
    watcher.file("was_broken.py", "error")
    write(live_dir / "was_broken.py", "x = 1\n")
    watcher.file("was_broken.py", "ok")
    page = open_page(demo.url)
    error = wait_toast(page, ".hot-reload-error", "Error in broken.py")
    assert "broken.py:3" in error.inner_text()
    expect(page.locator("#hot-reload-toasts .hot-reload-toast")).to_have_count(1)


def test_a_save_that_stops_replacing_says_what_it_restored(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    demo, _watcher = served
    page = open_page(demo.url)
    write(live_dir / "tweak.py", GOOD.format(greeting="Howdy"))
    wait_toast(page, ".hot-reload-success", "Replaced: hotreload_lib.demo.greet")
    write(live_dir / "tweak.py", "x = 1\n")
    wait_toast(page, ".hot-reload-success", "Restored: hotreload_lib.demo.greet")


@pytest.mark.parametrize("link, href", [
    ("vscode://file/{path}:{line}", "vscode://file/{path}:10"),
    ("javascript:alert(1)//{path}", None),
    ("", None),
])
def test_file_and_line_open_the_editor_the_setting_names(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any],
        link: str, href: str | None) -> None:
    demo, _watcher = served
    page = open_page(demo.url, init_script=f"window.opts = {{hot_reload_editor_link: {link!r}}};")
    write(live_dir / "broken.py", BROKEN.format(greeting="Hi"))
    error = wait_toast(page, ".hot-reload-error", "Error in broken.py")
    location = error.locator(".hot-reload-toast-location")
    expect(location).to_have_text("broken.py:10")
    links = location.locator("a")
    if href is None:
        expect(links).to_have_count(0)
    else:
        expect(links).to_have_attribute("href", href.format(path=(live_dir / "broken.py").as_posix()))


FAILING_REPLACE = "import sys\nfrom hotreload_lib import replace\n\n" \
    "replace(sys.modules['hotreload_lib.demo'], 'no_such_function', lambda: None)\n"


@pytest.mark.parametrize("width", [1400, 390])
def test_error_toasts_stay_narrow_wrap_their_traceback_and_show_the_users_frames(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any], width: int) -> None:
    """A failing replace() goes through the reloader's frames: they are behind a button. Nothing
    scrolls sideways, whatever the length of a path."""
    demo, _watcher = served
    page = open_page(demo.url, viewport=(width, 900), compact=True)
    deep = live_dir / ("a_rather_long_folder_name_" * 3) / "replace_a_function_that_is_not_there.py"
    write(deep, FAILING_REPLACE)
    error = wait_toast(page, ".hot-reload-error", "replace_a_function_that_is_not_there.py")
    error.locator("summary").click()
    traceback = error.locator(".hot-reload-toast-traceback")
    assert "replace_a_function_that_is_not_there.py\", line 4" in traceback.inner_text()
    assert "/hotreload_lib/" not in traceback.inner_text()
    box = page.locator("#hot-reload-toasts").bounding_box()
    assert box is not None and box["width"] <= min(360, width - 32) + 1
    sideways = page.evaluate("""() => Array.from(document.querySelectorAll('#hot-reload-toasts *'))
        .filter(node => node.scrollWidth > node.clientWidth + 1 && getComputedStyle(node).overflowX !== 'visible')
        .map(node => node.className)""")
    assert sideways == []
    error.locator(".hot-reload-frames").click()
    assert "/hotreload_lib/patch/registry.py" in traceback.inner_text()


def test_an_edit_during_a_generation_waits_and_apply_now_runs_it(
        make_reloader: Callable[..., Any], serve_page: Callable[..., DemoPage], live_dir: Path,
        open_page: Callable[..., Any]) -> None:
    webui = DemoWebui()
    webui.busy_reason = "a generation is running"
    reloader, _watcher = make_reloader(host=webui.hooks())
    page = open_page(serve_page(feed_of(reloader), webui=webui).url)
    write(live_dir / "tweak.py", "x = 1\n")
    waiting = wait_toast(page, ".hot-reload-waiting", "Waiting: tweak.py")
    write(live_dir / "tweak.py", "x = 2\n")  # a second save is the same wait
    waiting.locator(".hot-reload-action", has_text="Apply now").click()
    wait_toast(page, ".hot-reload-success", "Reloaded tweak.py")
    expect(page.locator("#hot-reload-toasts .hot-reload-waiting")).to_have_count(0)
    assert page.evaluate("() => document.querySelectorAll('#hot-reload-toasts .hot-reload-toast').length") == 1


TRACKED_MODULE = "hot_reload_page_test_module"
THING = "class Base:\n    pass\n\n\nclass Thing(Base):\n    pass\n\n\ndef hello():\n    return {}\n"


@pytest.fixture
def my_ext(tmp_path: Path) -> Iterator[Path]:
    """An extension of the user's, its module loaded, its stylesheet and script linked by the page."""
    tree = tmp_path / "my-ext"
    write(tree / f"{TRACKED_MODULE}.py", THING.format(1))
    write(tree / "style.css", "body { --hot-reload-test: one; }\n")
    write(tree / "javascript" / "my_ext.js", "window.hotReloadTestScript = 1;\n")
    sys.path.insert(0, str(tree))
    importlib.import_module(TRACKED_MODULE)
    yield tree
    sys.path.remove(str(tree))
    sys.modules.pop(TRACKED_MODULE, None)


@pytest.fixture
def tracked_page(make_reloader: Callable[..., Any], serve_page: Callable[..., DemoPage], my_ext: Path,
                 open_page: Callable[..., Any]) -> tuple[Any, DemoWebui]:
    webui = DemoWebui([my_ext])
    reloader, _watcher = make_reloader(host=webui.hooks(), tracked=[my_ext])
    page = open_page(serve_page(feed_of(reloader), webui=webui).url)
    page.evaluate("window.hotReloadTestSamePage = true")
    return page, webui


def test_an_edited_module_is_updated_and_a_change_it_cannot_apply_offers_reload_ui(
        tracked_page: tuple[Any, DemoWebui], my_ext: Path) -> None:
    page, webui = tracked_page
    write(my_ext / f"{TRACKED_MODULE}.py", THING.format(2))
    wait_toast(page, ".hot-reload-success", f"{TRACKED_MODULE}: hello (function updated)")
    write(my_ext / f"{TRACKED_MODULE}.py", THING.format(2).replace("Thing(Base)", "Thing"))
    refused = wait_toast(page, ".hot-reload-error", "cannot update")
    first_app = page.evaluate("() => hotReload.app")
    webui.busy_reason = "a generation is running"
    refused.locator(".hot-reload-action", has_text="Reload UI").click()
    expect(refused).to_contain_text("Reload UI waits: a generation is running")
    assert page.evaluate("() => hotReload.app") == first_app
    webui.busy_reason = ""
    # The demo serves a new app, as the webui does; the page that asked reloads itself into it.
    page.wait_for_function(f"() => typeof hotReload !== 'undefined' && hotReload.app !== null && "
                           f"hotReload.app !== {first_app!r}")
    assert page.evaluate("() => window.hotReloadTestSamePage") is None


def catch_up_with(page: Any, state: dict[str, Any]) -> None:
    """Let the page catch up from `state` as if the server had answered it."""
    page.evaluate("""(state) => {
        const real = hotReload.request;
        hotReload.request = (name, options) => {
            hotReload.request = real;
            return Promise.resolve(new Response(JSON.stringify(state)));
        };
        return hotReload.resync();
    }""", state)


def test_only_a_newer_event_of_its_file_takes_a_toast_away_in_a_catch_up(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    """The status's fields are read one after another while the worker goes on: a status can count
    an event in `last_seq` and still miss its file among the failing ones (what CI met twice, the
    toast of the first save after a page opened taken away by that page's first catch-up)."""
    demo, watcher = served
    page = open_page(demo.url)
    write(live_dir / "broken.py", "1 / 0\n")
    toast = wait_toast(page, ".hot-reload-error", "Error in broken.py").first.element_handle()
    seq = watcher.file("broken.py", "error").seq
    catch_up_with(page, {"last_seq": seq + 5, "failing": [], "files": {}, "newest": {"broken.py": seq}})
    assert toast.evaluate("node => node.isConnected")
    catch_up_with(page, {"last_seq": seq + 5, "failing": [], "files": {}, "newest": {"broken.py": seq + 1}})
    assert not toast.evaluate("node => node.isConnected"), "a newer event it missed (a fix) settles it"


def test_a_refused_tracked_change_outlives_a_catch_up_and_greets_a_page_opened_later(
        tracked_page: tuple[Any, DemoWebui], my_ext: Path, open_page: Callable[..., Any]) -> None:
    """A page catches up from the status (at its first hello, after a gap): the status must know the
    tracked files that fail, or the catch-up takes their toasts away and a later page never shows them."""
    page, _webui = tracked_page
    write(my_ext / f"{TRACKED_MODULE}.py", THING.format(2).replace("Thing(Base)", "Thing"))
    refused = wait_toast(page, ".hot-reload-error", "cannot update").first.element_handle()
    page.evaluate("() => hotReload.resync()")
    assert refused.evaluate("node => node.isConnected")
    later = open_page(page.url)
    wait_toast(later, ".hot-reload-error", "cannot update")


def test_a_reload_ui_the_host_cannot_do_says_why_and_its_button_stands_down(
        tracked_page: tuple[Any, DemoWebui], my_ext: Path) -> None:
    """As on SD.Next, which rebuilds its page only by a restart: the refusal is a notice of the
    reloader (file "."), titled as such, and the button that asked no longer says it is reloading."""
    page, webui = tracked_page
    write(my_ext / f"{TRACKED_MODULE}.py", THING.format(2).replace("Thing(Base)", "Thing"))
    refused = wait_toast(page, ".hot-reload-error", "cannot update")
    webui.page = None  # the demo then answers that it cannot reload the UI
    button = refused.locator(".hot-reload-action", has_text="Reload UI")
    button.click()
    notice = wait_toast(page, ".hot-reload-error", "Reload UI: the demo page is not served")
    assert notice.locator(".hot-reload-toast-title").inner_text() == "Hot reload error"
    expect(refused.locator(".hot-reload-action")).to_have_text("Restart needed")
    expect(refused.locator(".hot-reload-action")).to_be_disabled()
    assert page.evaluate("() => hotReload.reloadUiAsked") is False


def test_where_the_page_cannot_be_rebuilt_a_refused_change_says_restart_without_a_button(
        tracked_page: tuple[Any, DemoWebui], my_ext: Path) -> None:
    page, webui = tracked_page
    webui.page = None
    write(my_ext / f"{TRACKED_MODULE}.py", THING.format(2).replace("Thing(Base)", "Thing"))
    refused = wait_toast(page, ".hot-reload-error", "cannot update")
    expect(refused).to_contain_text("(restart to apply)")
    expect(refused.locator(".hot-reload-action")).to_have_count(0)


def test_a_saved_stylesheet_is_swapped_in_and_a_saved_script_offers_reload_page(
        tracked_page: tuple[Any, DemoWebui], my_ext: Path) -> None:
    page, _webui = tracked_page
    custom = "() => getComputedStyle(document.body).getPropertyValue('--hot-reload-test').trim()"
    assert page.evaluate(custom) == "one"
    write(my_ext / "style.css", "body { --hot-reload-test: two; }\n")
    wait_toast(page, ".hot-reload-success", "Style updated")
    page.wait_for_function(f"() => ({custom})() === 'two'")
    write(my_ext / "javascript" / "my_ext.js", "window.hotReloadTestScript = 2;\n")
    toast = wait_toast(page, ".hot-reload-info", "JavaScript changed")
    assert page.evaluate("() => window.hotReloadTestSamePage") is True  # the stylesheet took no reload
    toast.locator(".hot-reload-action", has_text="Reload page").click()
    page.wait_for_function("() => window.hotReloadTestScript === 2")
    assert page.evaluate("() => window.hotReloadTestSamePage") is None


def test_the_hot_reload_tab_lists_replacements_and_its_buttons_work(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    demo, _watcher = served
    page = open_page(demo.url)
    write(live_dir / "tweak.py", GOOD.format(greeting="Howdy"))
    wait_toast(page, ".hot-reload-success", "Reloaded tweak.py")
    page.locator(".tab-nav button", has_text="Hot Reload").click()
    # .first: gradio 4 renders each cell twice (one copy measures the columns).
    greet_row = page.locator("#hot_reload_active").get_by_text("hotreload_lib.demo.greet")
    greet_row.first.wait_for()
    expect(page.locator("#hot_reload_active")).to_contain_text("tweak.py")
    # The two tables are separate outputs: gradio may render the second a moment later.
    expect(page.locator("#hot_reload_recent")).to_contain_text("hotreload_lib.demo.greet (in-place)")

    page.click("#hot_reload_restore_all")
    wait_toast(page, ".hot-reload-toast", "Restore all: hotreload_lib.demo.greet")
    expect(greet_row).to_have_count(0)

    page.click("#hot_reload_rerun_all")
    page.locator("#hot-reload-toasts .hot-reload-success", has_text="Reloaded tweak.py").nth(1).wait_for()
    greet_row.first.wait_for()


def test_sdnext_reads_the_stream_through_authfetch_under_its_subpath(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any]) -> None:
    """SD.Next's page: onUiReady (runs after opts and subpath are known), window.subpath, authFetch;
    SD.Next serves the routes under its subpath too."""
    demo, _watcher = served
    under_subpath = FastAPI()
    # SD.Next's registrar adds the subpath copy in the same add_routes call as the others, so its
    # stream watches the same server. Without the server this stream outlived close() for as long
    # as Chromium kept its socket, which it often still does when close() starts.
    add_routes(under_subpath, demo.feed, server=GradioServer(demo.demo))
    demo.app.mount("/sdnext-subpath", under_subpath)
    page = open_page(demo.url, init_script=SDNEXT_PAGE + KEEP_TOASTS)
    write(live_dir / "next.py", "x = 1\n")
    wait_toast(page, ".hot-reload-success", "Reloaded next.py")
    # The stream, and the status a fresh page asks for what fails now.
    assert sorted(page.evaluate("() => window.hotReloadTestFetched")) == [
        "/sdnext-subpath/hot-reload/events", "/sdnext-subpath/hot-reload/status"]

    # Reload UI and Ctrl+C (gradio's close()) with the page still open: uvicorn waits for every
    # open response, so the stream must end by itself, and the page reconnects. The first half of
    # close() (asking the server to stop), then the page seen asking again: a stream that outlived
    # the server fails here instead of hanging close().
    demo.demo.server.should_exit = True
    page.wait_for_function(
        "() => window.hotReloadTestFetched.filter(url => url.includes('/hot-reload/events')).length > 1")
    demo.close()


# A theme dark of its own, without gradio's "dark" class on <body> (SD.Next's Modern UI).
DARK_PAGE = """document.addEventListener("DOMContentLoaded", () => {
    const style = document.createElement("style");
    style.textContent = "body, .gradio-container { background: #141414 !important; color: #ddd !important; }";
    document.head.appendChild(style);
});"""


@pytest.mark.parametrize("theme", ["light", "dark", "dark page"])
def test_every_text_of_the_toasts_is_readable_in_the_theme(
        served: tuple[DemoPage, EventWatcher], live_dir: Path, open_page: Callable[..., Any], theme: str) -> None:
    """What docs/screenshots.py pictures, measured: each text against its background, in each theme."""
    demo, _watcher = served
    dark_page = theme == "dark page"
    page = open_page(demo.url, theme="light" if dark_page else theme, compact=True,
                     init_script=KEEP_TOASTS + (DARK_PAGE if dark_page else ""))
    assert page.evaluate("() => document.body.classList.contains('dark')") == (theme == "dark")
    write(live_dir / "louder_infotext.py", GOOD.format(greeting="Howdy"))
    wait_toast(page, ".hot-reload-success", "Reloaded louder_infotext.py")
    write(live_dir / "upscale_tweak.py", FAILING_REPLACE)
    error = wait_toast(page, ".hot-reload-error", "Error in upscale_tweak.py")
    error.locator("summary").click()
    (live_dir / "louder_infotext.py").unlink()
    wait_toast(page, ".hot-reload-toast", "Removed louder_infotext.py")
    page.mouse.move(900, 100)
    for text, on in [(".hot-reload-toast-title", ".hot-reload-toast"), (".hot-reload-toast-line", ".hot-reload-toast"),
                     (".hot-reload-toast-meta", ".hot-reload-toast"), (".hot-reload-frames", ".hot-reload-frames"),
                     (".hot-reload-toast-traceback", ".hot-reload-toast-traceback"),
                     (".hot-reload-dismiss-all", ".hot-reload-dismiss-all")]:
        colours = page.evaluate(COLOURS, [text, on])
        assert colours, f"no {text} on the page"
        for colour, background in colours:
            assert contrast(colour, background) >= 4.5, f"{text}: {colour} on {background} ({theme})"
            assert (luminance(background) < 0.2) == (theme != "light"), f"{background} in the {theme} theme"


# [text colour, background colour] of each element matching the first selector, the background
# taken from its closest ancestor (or itself) matching the second.
COLOURS = """([textSelector, backgroundSelector]) =>
    Array.from(document.querySelectorAll("#hot-reload-toasts " + textSelector)).map(node => [
        getComputedStyle(node).color,
        getComputedStyle(node.closest(backgroundSelector) || node).backgroundColor,
    ])"""


def luminance(css_colour: str) -> float:
    """WCAG relative luminance of an rgb()/rgba() colour."""
    red, green, blue = (int(float(part)) / 255 for part in css_colour[css_colour.index("(") + 1:-1].split(",")[:3])
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("opts, retried", [("{}", True), ("{hot_reload_enabled: false}", False)])
def test_a_refused_stream_is_retried_only_while_hot_reload_is_on(
        served: tuple[DemoPage, EventWatcher], browser: Any, opts: str, retried: bool) -> None:
    """Switched off, the webui adds no routes: the page asks once and then stays quiet."""
    demo, _ = served
    context = browser.new_context()
    try:
        context.add_init_script(f"window.opts = {opts};")
        page = context.new_page()
        asked: list[str] = []

        def refuse(route: Any) -> None:
            asked.append(route.request.url)
            route.fulfill(status=404, body="Not Found")

        page.route("**/hot-reload/events*", refuse)
        page.goto(demo.url)
        page.wait_for_function("() => typeof hotReload !== 'undefined' && hotReload.started")
        # The first retry comes after 1 s, the second after 2 s more: a page that retries is seen
        # doing it (no need to sit out the whole window), one that does not is watched for all of it.
        waited_ms = 0
        while len(asked) < 2 and waited_ms < (WAIT_MS if retried else 3500):
            page.wait_for_timeout(100)  # the route's handler runs meanwhile
            waited_ms += 100
        assert (len(asked) > 1) is retried, asked
    finally:
        context.close()


def test_a_long_run_shows_still_running_until_it_ends(make_reloader: Callable[..., Any],
                                                      serve_page: Callable[..., DemoPage],
                                                      open_page: Callable[..., Any], live_dir: Path) -> None:
    from hotreload_lib.reloader import Timings

    # The run lasts until the test lets it end; the next notice comes 2 s after the first (N, 2N, 4N),
    # far from the resync even on a loaded machine.
    reloader, watcher = make_reloader(timings=Timings(running_notice_after=2.0))
    page = open_page(serve_page(feed_of(reloader)).url)
    release = live_dir.parent / "release"
    write(live_dir / "slow.py", f"import os, time\nwhile not os.path.exists({str(release)!r}):\n    time.sleep(0.05)\n")
    running = wait_toast(page, ".hot-reload-running", "Still running: slow.py").first.element_handle()
    page.evaluate("() => hotReload.resync()")  # as after a gap: the status says it still runs
    assert running.evaluate("node => node.isConnected"), "the same toast, not the next notice's"
    release.touch()
    watcher.file("slow.py", "ok")
    wait_toast(page, ".hot-reload-success", "Reloaded slow.py")
    expect(page.locator("#hot-reload-toasts .hot-reload-running")).to_have_count(0)


# -- what the user typed, kept across the page reloads the page makes ---------------------------------
# What the test's user makes of the demo's Inputs tab (one component of each kind), and what the
# server then gets from that tab's button; hot_reload_demo_seed is left alone where `untouched` says so.
CHANGED = {
    "hot_reload_demo_prompt": "a red fox in the snow",
    "hot_reload_demo_seed": 1234,
    "hot_reload_demo_steps": 42,
    "hot_reload_demo_sampler": "DDIM",
    "hot_reload_demo_styles": ["Watercolour", "Line art"],
    "hot_reload_demo_hires": True,
    "hot_reload_demo_format": "WebP",
    "hot_reload_demo_save": ["Images", "Infotext"],
}
SCROLLED = 150
SHORT_VIEWPORT = (1000, 480)  # the Inputs tab is taller: the page scrolls


def change_inputs(page: Any, untouched: tuple[str, ...] = ()) -> None:
    """As a user does it: the Inputs tab, then each control by mouse and keyboard, then a scroll."""
    page.locator(".tab-nav button", has_text="Inputs").click()
    page.fill("#hot_reload_demo_prompt textarea", CHANGED["hot_reload_demo_prompt"])
    if "hot_reload_demo_seed" not in untouched:
        page.fill("#hot_reload_demo_seed input", str(CHANGED["hot_reload_demo_seed"]))
    page.fill("#hot_reload_demo_steps input[type=number]", str(CHANGED["hot_reload_demo_steps"]))
    page.click("#hot_reload_demo_sampler input")
    page.locator("#hot_reload_demo_sampler li", has_text="DDIM").click()
    page.click("#hot_reload_demo_styles input")
    for style in CHANGED["hot_reload_demo_styles"]:
        page.locator("#hot_reload_demo_styles li", has_text=style).click()
    page.keyboard.press("Escape")
    page.check("#hot_reload_demo_hires input")
    page.locator("#hot_reload_demo_format label", has_text="WebP").click()
    page.locator("#hot_reload_demo_save label", has_text="Infotext").click()
    page.evaluate(f"window.scrollTo(0, {SCROLLED})")
    assert page.evaluate("() => window.scrollY") == SCROLLED, "the page is too short to scroll"
    page.evaluate("window.hotReloadTestSamePage = true")


def after_reload(page: Any) -> dict[str, Any]:
    """Once the page has reloaded and put back what it kept (the scroll too): what the server gets
    from the Inputs tab."""
    page.wait_for_function("() => window.hotReloadTestSamePage === undefined && typeof hotReload !== 'undefined' "
                           "&& hotReload.restoring !== null")
    page.evaluate("() => hotReload.restoring")
    assert page.evaluate("() => window.scrollY") == SCROLLED
    page.click("#hot_reload_demo_show")  # visible: the Inputs tab is selected again
    shown = page.locator("#hot_reload_demo_shown textarea")
    expect(shown).not_to_have_value("")
    return dict(json.loads(shown.input_value()))


def test_reload_ui_keeps_what_the_user_changed_and_the_rest_takes_the_new_defaults(
        tracked_page: tuple[Any, DemoWebui], my_ext: Path, open_page: Callable[..., Any]) -> None:
    """The new app has other defaults: the prompt the user typed over stays theirs, the seed they
    left alone takes its new default. A reload of the user's own (F5) then restores nothing."""
    page, webui = tracked_page
    demo = webui.page
    assert demo is not None
    page.set_viewport_size({"width": SHORT_VIEWPORT[0], "height": SHORT_VIEWPORT[1]})
    change_inputs(page, untouched=("hot_reload_demo_seed",))
    demo.input_defaults.update(hot_reload_demo_prompt="a new default prompt", hot_reload_demo_seed=7)
    write(my_ext / f"{TRACKED_MODULE}.py", THING.format(2).replace("Thing(Base)", "Thing"))
    wait_toast(page, ".hot-reload-error", "cannot update").locator(".hot-reload-action", has_text="Reload UI").click()
    assert after_reload(page) == {**CHANGED, "hot_reload_demo_seed": 7}

    page.reload()
    page.wait_for_function("() => typeof hotReload !== 'undefined' && hotReload.restoring !== null")
    page.evaluate("() => hotReload.restoring")
    expect(page.locator("#hot_reload_demo_prompt textarea")).to_have_value("a new default prompt")
    expect(page.locator(".tab-nav button.selected").first).to_have_text("Greet")


def test_a_ui_rebuilt_on_the_server_reloads_the_page_at_once_keeping_what_the_user_changed(
        served: tuple[DemoPage, EventWatcher], open_page: Callable[..., Any]) -> None:
    """Events saying the server rebuilt the page's UI (needs "reload_now"), two in a burst: one
    reload, no click, and the reloaded page says why."""
    demo, watcher = served
    page = open_page(demo.url, viewport=SHORT_VIEWPORT)
    change_inputs(page)
    for tab in ("Inputs", "Extras"):
        watcher.events.publish(file="my-ext/scripts/my_ext.py", path="/my-ext/scripts/my_ext.py", outcome="updated",
                               message=f"my-ext: the {tab} tab rebuilt", needs="reload_now")
    assert after_reload(page) == CHANGED
    notice = wait_toast(page, ".hot-reload-info", "UI rebuilt: my-ext: the Inputs tab rebuilt")
    expect(notice).to_contain_text("my-ext: the Extras tab rebuilt")


def test_reload_page_for_changed_javascript_keeps_what_the_user_changed(
        tracked_page: tuple[Any, DemoWebui], my_ext: Path) -> None:
    page, _webui = tracked_page
    page.set_viewport_size({"width": SHORT_VIEWPORT[0], "height": SHORT_VIEWPORT[1]})
    change_inputs(page)
    write(my_ext / "javascript" / "my_ext.js", "window.hotReloadTestScript = 2;\n")
    toast = wait_toast(page, ".hot-reload-info", "JavaScript changed")
    toast.locator(".hot-reload-action", has_text="Reload page").click()
    assert after_reload(page) == CHANGED
    assert page.evaluate("() => window.hotReloadTestScript") == 2


def test_what_the_new_page_lacks_or_refuses_is_skipped_and_said_in_the_console(
        served: tuple[DemoPage, EventWatcher], open_page: Callable[..., Any]) -> None:
    """A component gone, a dropdown choice gone, a number beyond a slider's range: the rest comes back."""
    demo, _watcher = served
    page = open_page(demo.url)
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    page.evaluate("""() => sessionStorage.setItem(hotReload.stateKey, JSON.stringify({
        version: hotReload.stateVersion, path: location.pathname, time: Date.now(), tabs: {}, scroll: [0, 0],
        inputs: {
            "#hot_reload_demo_gone": {kind: "textbox", value: "lost"},
            "#hot_reload_demo_sampler": {kind: "dropdown", value: ["Heun"]},
            "#hot_reload_demo_steps": {kind: "slider", value: "999"},
            "#hot_reload_demo_prompt": {kind: "textbox", value: "kept"},
        },
    }))""")
    page.reload()
    page.wait_for_function("() => typeof hotReload !== 'undefined' && hotReload.restoring !== null")
    page.evaluate("() => hotReload.restoring")
    expect(page.locator("#hot_reload_demo_prompt textarea")).to_have_value("kept")
    expect(page.locator("#hot_reload_demo_sampler input")).to_have_value("Euler a")
    expect(page.locator("#hot_reload_demo_steps input[type=range]")).to_have_value("20")
    report = next(text for text in said if text.startswith("[Hot Reload] not restored"))
    assert report == ('[Hot Reload] not restored after the reload: #hot_reload_demo_gone (no longer on the page), '
                      '#hot_reload_demo_sampler (does not take ["Heun"]), #hot_reload_demo_steps (does not take "999")')
