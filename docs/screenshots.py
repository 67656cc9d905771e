"""The README's pictures of the toasts, taken from the demo by Debian's Chromium:

    .venv/bin/python docs/screenshots.py     (after ./dev.sh test has made .venv)

Writes docs/toasts.png and docs/toasts-dark.png (1400×900) and docs/toasts-narrow.png (390 px wide,
a phone). Each plays one scene in a fresh page: an extension's module updated, its JavaScript
changed, three files saved at once, an edit waiting for a generation, an error with its traceback
open. The files live in a folder of the temporary directory with a plain name, so that no path of
the machine that took them shows."""
from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from hotreload_lib.demo import DemoPage, DemoWebui  # noqa: E402
from hotreload_lib.events import EventLog  # noqa: E402
from hotreload_lib.page.server import Feed  # noqa: E402
from hotreload_lib.patch.registry import PatchRegistry  # noqa: E402
from hotreload_lib.reloader import Reloader  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SHOTS = [("toasts.png", "light", (1400, 900)), ("toasts-dark.png", "dark", (1400, 900)),
         ("toasts-narrow.png", "light", (390, 844))]
MODULE = "my_ext_prompts"
MODULE_SOURCE = '''def style_prompt(prompt):
    return prompt + "{suffix}"


def negative(prompt):
    return "blurry, " + prompt
'''
GREET = '''import sys

from hotreload_lib import replace


def greet(name):
    return f"Hi {name}, from the live file"


replace(sys.modules["hotreload_lib.demo"], "greet", greet)
'''
FAILING = '''import math

from hotreload_lib import replace


def upscale_factor(width):
    return math.sqrt(width - 4096)


scale = upscale_factor(1024)
'''


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def play_scene(page: Any, live: Path, extension: Path, webui: DemoWebui) -> None:
    toasts = "#hot-reload-toasts .hot-reload-toast"
    write(extension / f"{MODULE}.py", MODULE_SOURCE.format(suffix=", masterpiece"))
    page.locator(toasts, has_text="style_prompt (function updated)").first.wait_for()
    write(extension / "javascript" / "my_ext.js", "// my-ext: a new button\n")
    page.locator(toasts, has_text="JavaScript changed").first.wait_for()
    time.sleep(1.2)  # past the page's burst window: the three saves below are their own group
    for name in ("sampler_names.py", "hires_defaults.py", "infotext.py"):
        write(live / name, GREET if name == "sampler_names.py" else "settings = {'steps': 30}\n")
    page.locator(toasts, has_text="3 files changed").first.wait_for()
    write(live / "upscale_tweak.py", FAILING)
    error = page.locator(toasts, has_text="Error in upscale_tweak.py").first
    error.locator("summary").click()
    webui.busy_reason = "a generation is running"
    write(live / "prompt_tweak.py", "weight = 1.2\n")
    page.locator(toasts, has_text="Waiting: prompt_tweak.py").first.wait_for()
    page.mouse.move(1300, 100)


def reset(root: Path) -> tuple[Path, Path]:
    shutil.rmtree(root, ignore_errors=True)
    live, extension = root / "my-tweaks", root / "my-ext"
    write(extension / f"{MODULE}.py", MODULE_SOURCE.format(suffix=""))
    write(extension / "javascript" / "my_ext.js", "// my-ext\n")
    live.mkdir()
    return live, extension


def main() -> int:
    root = Path(tempfile.gettempdir()) / "webui"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        for name, theme, (width, height) in SHOTS:
            live, extension = reset(root)
            sys.path.insert(0, str(extension))
            importlib.import_module(MODULE)
            webui = DemoWebui([extension])
            events, registry = EventLog(), PatchRegistry()
            reloader = Reloader(live, events, registry, host=webui.hooks(), tracked=[extension])
            reloader.start()
            demo = DemoPage(Feed(events, registry, lambda reloader=reloader: reloader), webui=webui)
            try:
                url = demo.launch()
                context = browser.new_context(viewport={"width": width, "height": height})
                context.add_init_script("window.opts = {hot_reload_toast_seconds: 600};")
                page = context.new_page()
                page.goto(url + ("?__theme=dark" if theme == "dark" else ""))
                page.wait_for_function("() => typeof hotReload !== 'undefined' && hotReload.lastSeq !== null")
                play_scene(page, live, extension, webui)
                page.screenshot(path=str(REPO_ROOT / "docs" / name))
                print(f"docs/{name}")
                context.close()
            finally:
                demo.close()
                reloader.stop()
                registry.restore_all()
                sys.modules.pop(MODULE, None)
                sys.path.remove(str(extension))
        browser.close()
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
