"""The page in a real browser: Debian's Chromium, driven by Playwright, on the demo page (built like
the webui's: a script.js-like file defining onUiLoaded, our JS after it, our CSS before </body>)
served by gradio 3.41 on 127.0.0.1, with a real reloader watching a temporary folder."""
from __future__ import annotations

import os
import shutil
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from hotreload_lib.demo import DemoPage
from hotreload_lib.events import EventLog
from hotreload_lib.registry import PatchRegistry
from hotreload_lib.reloader import Reloader
from hotreload_lib.server import add_routes
from tests.conftest import EventWatcher, feed_of, write

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
# Long-lived toasts, so that a test counts every toast the page showed.
KEEP_TOASTS = "window.opts = {hot_reload_toast_seconds: 600};"
WAIT_MS = 20_000
# Where the README's screenshot is written when asked: HOT_RELOAD_SCREENSHOT=docs/toasts.png
SCREENSHOT_ENV = "HOT_RELOAD_SCREENSHOT"

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

    def open_(url: str, init_script: str = KEEP_TOASTS, theme: str = "light") -> Any:
        context = browser.new_context(viewport={"width": 1000, "height": 720})
        contexts.append(context)
        context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url + ("?__theme=dark" if theme == "dark" else ""))
        # The stream said hello: from here on every event is the page's to show.
        page.wait_for_function("() => typeof hotReload !== 'undefined' && hotReload.lastSeq !== null")
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
    demo, watcher = served
    page = open_page(demo.url)
    write(live_dir / "before.py", "x = 1\n")
    wait_toast(page, ".hot-reload-success", "Reloaded before.py")

    demo.close()  # as "Reload UI" does: the server stops, the page's stream drops
    write(live_dir / "while_down.py", "x = 2\n")
    watcher.file("while_down.py", "ok")
    demo.launch()  # a new app on the same port; the page reconnects by itself
    wait_toast(page, ".hot-reload-success", "Reloaded while_down.py")

    # Events arrive in order: once this one shows, any replay of the others would have shown too.
    write(live_dir / "after.py", "x = 3\n")
    wait_toast(page, ".hot-reload-success", "Reloaded after.py")
    titles = [text.splitlines()[0] for text in toasts(page)]
    assert titles == ["Reloaded before.py", "Reloaded while_down.py", "Reloaded after.py"]


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


def test_at_most_five_toasts_show(served: tuple[DemoPage, EventWatcher], live_dir: Path,
                                   open_page: Callable[..., Any]) -> None:
    demo, _watcher = served
    page = open_page(demo.url)
    for number in range(8):
        write(live_dir / f"file_{number}.py", f"x = {number}\n")
        wait_toast(page, ".hot-reload-success", f"Reloaded file_{number}.py")
    titles = [text.splitlines()[0] for text in toasts(page)]
    assert titles == [f"Reloaded file_{number}.py" for number in range(3, 8)]


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
    active = page.locator("#hot_reload_active")
    assert "tweak.py" in active.inner_text()
    assert "hotreload_lib.demo.greet (in-place)" in page.locator("#hot_reload_recent").inner_text()

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
    add_routes(under_subpath, demo.feed)
    demo.app.mount("/sdnext-subpath", under_subpath)
    page = open_page(demo.url, init_script=SDNEXT_PAGE + KEEP_TOASTS)
    write(live_dir / "next.py", "x = 1\n")
    wait_toast(page, ".hot-reload-success", "Reloaded next.py")
    assert page.evaluate("() => window.hotReloadTestFetched") == ["/sdnext-subpath/hot-reload/events"]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshot_of_the_toasts(served: tuple[DemoPage, EventWatcher], live_dir: Path,
                                  open_page: Callable[..., Any], tmp_path: Path, theme: str) -> None:
    """The README's picture, taken by this browser (HOT_RELOAD_SCREENSHOT=docs/toasts.png: the
    light one; the dark one beside it, docs/toasts-dark.png). Both themes must be readable."""
    demo, _watcher = served
    page = open_page(demo.url, theme=theme)
    assert page.evaluate("() => document.body.classList.contains('dark')") == (theme == "dark")
    write(live_dir / "louder_infotext.py", GOOD.format(greeting="Howdy"))
    wait_toast(page, ".hot-reload-success", "Reloaded louder_infotext.py")
    write(live_dir / "upscale_tweak.py", "import math\n\nscale = math.sqrt(-1)\n")
    error = wait_toast(page, ".hot-reload-error", "Error in upscale_tweak.py")
    error.locator("summary").click()
    (live_dir / "louder_infotext.py").unlink()
    wait_toast(page, ".hot-reload-toast", "Removed louder_infotext.py")
    page.mouse.move(900, 100)
    for text_class, on in [("title", "toast"), ("line", "toast"), ("meta", "toast"), ("traceback", "toast-traceback")]:
        colours = page.evaluate(COLOURS, [f".hot-reload-toast-{text_class}", f".hot-reload-{on}"])
        assert colours, f"no .hot-reload-toast-{text_class} on the page"
        for text, background in colours:
            assert contrast(text, background) >= 4.5, f"{text_class}: {text} on {background} ({theme})"
            assert (luminance(background) < 0.2) == (theme == "dark"), f"{background} in the {theme} theme"
    box = page.locator("#hot-reload-toasts").bounding_box()
    assert box is not None
    target = tmp_path / "toasts.png"
    page.screenshot(path=str(target), clip={"x": 0, "y": max(0, box["y"] - 16), "width": 560,
                                            "height": min(720 - max(0, box["y"] - 16), box["height"] + 32)})
    assert target.stat().st_size > 0
    wanted = os.environ.get(SCREENSHOT_ENV)
    if wanted:
        shutil.copyfile(target, wanted if theme == "light" else wanted.replace(".png", "-dark.png"))


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
        page.wait_for_timeout(3500)  # the first retry comes after 1 s, the second after 2 s more
        assert (len(asked) > 1) is retried, asked
    finally:
        context.close()


def test_a_long_run_shows_still_running_until_it_ends(make_reloader: Callable[..., Any],
                                                      serve_page: Callable[..., DemoPage],
                                                      open_page: Callable[..., Any], live_dir: Path) -> None:
    from hotreload_lib.reloader import Timings

    reloader, watcher = make_reloader(timings=Timings(running_notice_after=0.5))
    page = open_page(serve_page(feed_of(reloader)).url)
    write(live_dir / "slow.py", "import time\nfor _ in range(25):\n    time.sleep(0.1)\n")
    wait_toast(page, ".hot-reload-running", "Still running: slow.py")
    watcher.file("slow.py", "ok")
    wait_toast(page, ".hot-reload-success", "Reloaded slow.py")
    expect(page.locator("#hot-reload-toasts .hot-reload-running")).to_have_count(0)
