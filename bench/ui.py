"""Save -> the rebuilt tab visible and usable in the open page, against the host's Reload UI (click ->
the page usable again), both in headless Chromium on the stand-in webui (bench/ui_agent.py).

"Usable" is the same in both: the page shows the tab's new label, and the prompt the user had typed
is back in its box (the page script restores it after each reload it makes). Each in-place save
changes the tab's label; each Reload UI is asked the way the toast's button asks it (a POST to
./hot-reload/reload-ui from the page) after a save that changed the label too, so both end on a page
whose tab is new."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .latency import REPO_ROOT, Progress
from .report import summarize
from .toast import CHROMIUM, CHROMIUM_FLAGS
from .ui_agent import tab_script

# gradio's page links Google Fonts; here, with no network, a name look-up for them now and then waits
# for the resolver's 5 s time-out before the page renders. Every name but the loopback's fails at
# once instead, as a user's cached fonts would not hold the page either.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
START_TIMEOUT = 90.0
STEP_TIMEOUT = 30.0
PROMPT = "a lighthouse at dusk, oil painting"
USABLE = """label => {
    const prompt = document.querySelector("#txt2img_prompt textarea");
    const tabs = [...document.querySelectorAll("button")].map(button => button.textContent.trim());
    return prompt && prompt.value === PROMPT && tabs.includes(label) && typeof hotReload !== "undefined"
        && hotReload.lastSeq !== null;
}""".replace("PROMPT", json.dumps(PROMPT))
ASK_RELOAD_UI = """() => {
    hotReload.reloadUiAsked = true;
    return fetch(hotReload.url("reload-ui"), {method: "POST"}).then(response => response.status);
}"""


def run_ui(root: Path, logs: Path, *, saves: int, reloads: int, progress: Progress) -> dict[str, Any]:
    progress(f"UI rebuild: {saves} tab edits rebuilt in place vs {reloads} Reload UI, in headless Chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        return {"status": "skipped", "reason": f"playwright is not installed: {error}"}
    root.mkdir(parents=True, exist_ok=True)
    log = (logs / "ui-agent.log").open("w", encoding="utf-8")
    agent = subprocess.Popen([sys.executable, "-m", "bench.ui_agent", str(root)], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert agent.stdout is not None
        started: dict[str, Any] = {}
        for line in agent.stdout:  # gradio prints its own lines first
            if line.startswith("{"):
                started = json.loads(line)
                break
        if "url" not in started:
            return {"status": "failed", "reason": f"the stand-in did not start: see {log.name}"}
        tab_file = Path(started["tab_script"])
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, OFFLINE])
            try:
                page = browser.new_page()
                page.goto(started["url"], wait_until="load")
                page.wait_for_selector("#txt2img_prompt textarea", timeout=START_TIMEOUT * 1000)
                page.fill("#txt2img_prompt textarea", PROMPT)
                page.wait_for_function(USABLE, arg="Bench tab 0", timeout=START_TIMEOUT * 1000)
                in_place = _in_place(page, tab_file, saves)
                reload_ui = _reload_ui(page, tab_file, reloads, first=saves + 1)
            finally:
                browser.close()
    finally:
        agent.kill()
        agent.wait()
        log.close()
    ratio = (round(reload_ui["p50_ms"] / in_place["p50_ms"], 1)
             if in_place["p50_ms"] and reload_ui["p50_ms"] else None)
    # gradio 3 shows the rebuilt tab through a page load, gradio 4 re-renders it in the open page.
    return {"status": "ok", "gradio": version("gradio"), "in_place": in_place, "reload_ui": reload_ui,
            "reload_ui_p50_over_in_place_p50": ratio}


def _in_place(page: Any, tab_file: Path, saves: int) -> dict[str, Any]:
    samples = []
    for index in range(1, saves + 2):  # the first is the warm-up
        label = f"Bench tab {index}"
        started = time.monotonic()
        tab_file.write_text(tab_script(label), encoding="utf-8")
        page.wait_for_function(USABLE, arg=label, timeout=STEP_TIMEOUT * 1000, polling=10)
        if index > 1:
            samples.append((time.monotonic() - started) * 1000)
    return summarize(samples)


def _reload_ui(page: Any, tab_file: Path, reloads: int, *, first: int) -> dict[str, Any]:
    """Reload UI after a label change that the page has shown already (in place): the clock runs from
    the click to the page usable again, on the new app."""
    samples = []
    for index in range(first, first + reloads):
        label = f"Bench tab {index}"
        tab_file.write_text(tab_script(label), encoding="utf-8")
        page.wait_for_function(USABLE, arg=label, timeout=STEP_TIMEOUT * 1000, polling=10)
        app = page.evaluate("() => hotReload.app")
        started = time.monotonic()
        page.evaluate(ASK_RELOAD_UI)
        # The new document may not have the page script yet when it is asked.
        page.wait_for_function(f"label => typeof hotReload !== 'undefined' && hotReload.app !== {json.dumps(app)} "
                               f"&& ({USABLE})(label)", arg=label,
                               timeout=STEP_TIMEOUT * 1000, polling=10)
        samples.append((time.monotonic() - started) * 1000)
    return summarize(samples)
