"""Run by test_robustness in a child process: the stand-in webui with the extension installed, in a
Python where `import watchdog` fails. Serves the app on 127.0.0.1, asks it for a page, and prints
one JSON line: what the extension said, whether a live file ran, and the page's status code.

Usage: python tests/no_watchdog_webui.py WORK_DIR
"""
from __future__ import annotations

import importlib.abc
import json
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any


class BlockWatchdog(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "watchdog" or name.startswith("watchdog."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(work: Path) -> int:
    sys.meta_path.insert(0, BlockWatchdog())
    sys.modules.pop("watchdog", None)
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    from tests.standin.host import STANDIN_ROOT, StandinWebui, install_extension

    root = work / "webui"
    shutil.copytree(STANDIN_ROOT, root)
    ours = install_extension(root)
    live = work / "live"
    live.mkdir()
    marker = work / "ran"
    sys.path.insert(0, str(root))
    webui = StandinWebui(root, [ours])
    webui.preload(["--hot-reload-dir", str(live)])
    app = webui.start()

    reloader_module = sys.modules["hotreload_lib.reloader"]
    events = reloader_module.get_events()
    events.wait_after(0, 30)
    (live / "would_run.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")

    import httpx
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    ping = httpx.get(f"http://127.0.0.1:{port}/internal/ping", timeout=10).status_code
    server.should_exit = True
    time.sleep(1.0)  # a reloader that did watch would have run would_run.py by now

    reloader = reloader_module.get_reloader()
    print(json.dumps({
        "ping": ping,
        "mode": reloader.mode if reloader else None,
        "workers": sum(t.name == "hot-reload-worker" for t in threading.enumerate()),
        "events": [event.to_dict() for event in events.since(0)],
        "live_file_ran": marker.exists(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
