"""Save -> toast visible in a real page: headless Chromium (Debian's, through Playwright) on the demo.

Written against the demo's contract: `python -m hotreload_lib demo [FOLDER] [--port PORT]` serves a
page on 127.0.0.1 (its address printed on its output) whose toasts are elements with class
`hot-reload-toast` containing the saved file's name. When the demo command is not there, the part
is skipped with the reason; nothing else depends on it.

Each save creates a new file (bench_toast_0001.py, ...), so each toast names exactly one save. In
the page, a MutationObserver notes when a visible toast first names a file ("in the DOM") and the
next animation frame after it ("painted"); the page's clock is tied to ours by the round trip with
the smallest delay.
"""
from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .latency import REPO_ROOT, Progress
from .report import summarize
from .writer import save

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
TOAST_CLASS = "hot-reload-toast"
DEMO_COMMAND_ENV = "BENCH_DEMO_COMMAND"
# A page's root address: gradio 4 logs its own requests to 127.0.0.1 (/startup-events) before the demo says
# where its page is.
URL_PATTERN = re.compile(r"https?://(?:127\.0\.0\.1|localhost):\d+/?(?![^\s\"'<>])")
DEMO_START_TIMEOUT = 90.0
FIRST_TOAST_TIMEOUT = 30.0
TOAST_TIMEOUT = 5.0
GAP_RANGE = (0.05, 0.15)
OBSERVER_SCRIPT = """
(() => {
  const seen = {};
  window.__hotReloadBench = {seen};
  const now = () => performance.timeOrigin + performance.now();
  const look = () => {
    for (const toast of document.querySelectorAll(".TOAST_CLASS")) {
      const found = (toast.textContent || "").match(/bench_toast_\\d+\\.py/);
      if (!found || found[0] in seen) continue;
      const visible = toast.checkVisibility ? toast.checkVisibility() : toast.getClientRects().length > 0;
      if (!visible) continue;
      const entry = seen[found[0]] = {dom: now()};
      requestAnimationFrame(() => { entry.painted = now(); });
    }
  };
  new MutationObserver(look).observe(document, {childList: true, subtree: true, characterData: true,
                                                attributes: true});
})();
""".replace("TOAST_CLASS", TOAST_CLASS)


def _python_module(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *arguments], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=timeout, check=False)


def demo_command(live: Path, port: int) -> tuple[list[str] | None, str]:
    """The demo's command line, from its own --help (or BENCH_DEMO_COMMAND, with {folder} and {port}
    in it, should the demo's options differ); None and the reason when there is no demo."""
    override = os.environ.get(DEMO_COMMAND_ENV)
    if override:
        return shlex.split(override.format(folder=shlex.quote(str(live)), port=port, python=sys.executable)), ""
    helped = _python_module("hotreload_lib", "demo", "--help")
    if helped.returncode != 0:
        said = (helped.stderr or helped.stdout).strip().splitlines()
        return None, ("`python -m hotreload_lib demo` is not available in this checkout (the demo page comes "
                      f"with issue 5): {said[-1] if said else f'exit status {helped.returncode}'}")
    usage = helped.stdout
    command = [sys.executable, "-m", "hotreload_lib", "demo"]
    if re.search(r"\b(folder|dir|directory|FOLDER|DIR)\b", usage.split("\n\n")[0]):
        command.append(str(live))
    else:
        return None, f"the demo takes no folder to watch, so its saves cannot be made here; its usage: {usage[:300]}"
    if "--port" in usage:
        command += ["--port", str(port)]
    return command, ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Demo:
    """The demo process; its output is kept, and the first 127.0.0.1 address in it is the page."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.output: list[str] = []
        self.url_found = threading.Event()
        self.url = ""
        self.log_path = log_path
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "BROWSER": "true"})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            found = URL_PATTERN.search(line)
            if found and not self.url:
                self.url = found.group(0)
                self.url_found.set()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_path.write_text("".join(self.output), encoding="utf-8")


def _clock_offset_ms(page: Any) -> float:
    """Page clock minus ours (epoch ms), from the evaluate() round trip with the smallest delay."""
    best: tuple[float, float] | None = None
    for _ in range(15):
        before = time.time() * 1000
        page_now = page.evaluate("performance.timeOrigin + performance.now()")
        after = time.time() * 1000
        if best is None or after - before < best[0]:
            best = (after - before, page_now - (before + after) / 2)
    assert best is not None
    return best[1]


def run_toast(root: Path, logs: Path, *, saves: int, rng: random.Random, progress: Progress) -> dict[str, Any]:
    progress(f"save -> toast: the demo page in headless Chromium ({saves} saves)")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return {"status": "skipped", "reason": f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        return {"status": "skipped", "reason": f"playwright is not installed: {error}"}
    live = root / "live"
    live.mkdir(parents=True, exist_ok=True)
    command, reason = demo_command(live, _free_port())
    if command is None:
        return {"status": "skipped", "reason": reason}
    demo = Demo(command, logs / "demo.log")
    try:
        if not demo.url_found.wait(DEMO_START_TIMEOUT):
            return {"status": "skipped", "reason": f"the demo printed no 127.0.0.1 address within "
                    f"{DEMO_START_TIMEOUT:g} s; its output: {''.join(demo.output)[-1000:]}"}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page()
                page.add_init_script(OBSERVER_SCRIPT)
                page.goto(demo.url, wait_until="load")
                # A fresh page shows only events after its stream's hello: save after it.
                page.wait_for_function("() => typeof hotReload !== 'undefined' && hotReload.lastSeq !== null",
                                       timeout=FIRST_TOAST_TIMEOUT * 1000)
                measured = _measure(page, live, saves, rng)
                return {"status": "ok" if measured["dom"]["n"] else "failed", "url": demo.url,
                        "chromium": browser.version, **measured}
            finally:
                browser.close()
    finally:
        demo.close()


def _measure(page: Any, live: Path, saves: int, rng: random.Random) -> dict[str, Any]:
    monotonic_to_epoch_ms = time.time() * 1000 - time.monotonic_ns() / 1e6
    offset_ms = _clock_offset_ms(page)
    dom: list[float] = []
    painted: list[float] = []
    missed = 0
    for index in range(saves + 1):  # the first save is the warm-up: the page may still be connecting
        name = f"bench_toast_{index:04d}.py"
        time.sleep(rng.uniform(*GAP_RANGE))
        saved_ms = save(live / name, f"TOAST = {index}\n", "in-place") / 1e6 + monotonic_to_epoch_ms
        timeout = FIRST_TOAST_TIMEOUT if index == 0 else TOAST_TIMEOUT
        try:
            page.wait_for_function("name => (window.__hotReloadBench.seen[name] || {}).painted", arg=name,
                                   timeout=timeout * 1000)
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: a missed toast is a result
            missed += 1
            if index == 0:
                return {"missed": missed, "reason": f"no toast naming {name} appeared within {timeout:g} s",
                        "dom": summarize([]), "painted": summarize([])}
            continue
        if index == 0:
            continue
        seen = page.evaluate("name => window.__hotReloadBench.seen[name]", name)
        dom.append(seen["dom"] - offset_ms - saved_ms)
        painted.append(seen["painted"] - offset_ms - saved_ms)
    return {"missed": missed, "clock_offset_ms": round(offset_ms, 3),
            "dom": summarize(dom), "painted": summarize(painted)}
