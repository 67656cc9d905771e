"""The UI part's subject: the stand-in webui (tests/standin/) serving its page, with a tracked extension
whose on_ui_tabs tab the benchmark edits, and the host's main loop for Reload UI (A1111's webui.py
waits for shared.state.server_command == "restart", then closes the server and builds everything
again). `python -m bench.ui_agent WORK` prints one JSON line, {"url": ...}, and serves until killed."""
from __future__ import annotations

import asyncio
import json
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

TAB_SCRIPT = '''
import gradio as gr

from modules import script_callbacks


def on_ui_tabs():
    with gr.Blocks(analytics_enabled=False) as tab:
        name = gr.Textbox(label="Name", elem_id="bench_name")
        out = gr.Textbox(label="Out")
        gr.Button("Go").click(fn=lambda who: who, inputs=[name], outputs=[out])
    return [(tab, "LABEL", "bench_tab")]


script_callbacks.on_ui_tabs(on_ui_tabs)
'''
RELOAD_UI_POLL_SECONDS = 0.05  # the host's loop sleeps 0.5 s; this one is quicker, in the baseline's favour


def tab_script(label: str) -> str:
    return TAB_SCRIPT.replace("LABEL", label)


def serve(work: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    from tests.standin.host import STANDIN_ROOT, StandinWebui, install_extension

    root = work / "webui"
    shutil.copytree(STANDIN_ROOT, root)
    ours = install_extension(root)
    extension = root / "extensions" / "bench-tab"
    (extension / "scripts").mkdir(parents=True)
    (extension / "scripts" / "bench_tab.py").write_text(tab_script("Bench tab 0"), encoding="utf-8")
    live = work / "live"
    live.mkdir()
    sys.path.insert(0, str(root))
    webui = StandinWebui(root, [ours, extension])
    webui.ours = ours  # type: ignore[attr-defined]
    webui.preload(["--hot-reload-dir", str(live), "--hot-reload-track", str(extension)])
    url = webui.serve()
    from modules import shared

    print(json.dumps({"url": url, "tab_script": str(extension / "scripts" / "bench_tab.py")}), flush=True)
    while True:
        time.sleep(RELOAD_UI_POLL_SECONDS)
        if shared.state.server_command == "restart":
            shared.state.server_command = None
            threading.Thread(target=_in_an_event_loop, args=(webui.serve_again,), daemon=True).start()


def _in_an_event_loop(work: Callable[[], object]) -> None:
    """As the webui's main thread, which has an event loop: gradio 4 makes its queue's locks there."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    work()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
