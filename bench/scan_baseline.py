"""The baseline: how text-generation-webui's hot_reload extension (Artificiangel/hot_reload) picked up
saves. A daemon thread sleeps 2 s, lists the folder, and runs every .py file whose mtime changed as a
fresh module (importlib's spec_from_file_location + exec_module); the live file patches with setattr.

One deliberate difference: the original also skipped a file whose mtime moved by less than 0.5 s
since its last load, which loses a second save made shortly after a reload for good; here any
change of mtime counts, so the baseline is measured at its best.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from pathlib import Path

log = logging.getLogger("bench.scan")
SCAN_INTERVAL = 2.0


class MtimeScanner:
    def __init__(self, folder: Path, interval: float = SCAN_INTERVAL) -> None:
        self.folder = folder
        self.interval = interval
        self.loaded_mtimes: dict[str, float] = {}
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="bench-mtime-scan", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for name in sorted(os.listdir(self.folder)):
                if not name.endswith(".py"):
                    continue
                path = self.folder / name
                try:
                    mtime = path.stat().st_mtime
                except OSError:
                    continue
                if self.loaded_mtimes.get(name) != mtime:
                    self.loaded_mtimes[name] = mtime
                    self._load(path)

    def _load(self, path: Path) -> None:
        name = f"reloadable_{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except Exception:
            log.exception("[scan baseline] %s failed", path.name)
