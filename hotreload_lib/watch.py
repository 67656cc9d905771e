"""Watch the live folder: watchdog's native observer, or its polling observer where native events
do not arrive. Imported lazily (watchdog's import costs ~50 ms), from the reloader's own thread.

The choice is made in one place, `start_observer`, and said in one log line:
- polling when forced (env HOT_RELOAD_POLLING=1 or the setting);
- polling when the native observer cannot start (inotify watch or instance limits);
- polling when it starts but a probe file's event does not arrive within PROBE_TIMEOUT (WSL's
  /mnt drives, Docker Desktop bind mounts, network shares start fine and then stay silent).
"""
from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

PROBE_PREFIX = ".hot-reload-probe-"
PROBE_TIMEOUT = 1.0
POLL_INTERVAL = 0.5
# Without close-after-write events, a save is taken as complete after this much quiet.
QUIET_PERIOD = 0.05
# With them, a "modified" that no close follows (a writer that keeps the file open) still runs.
CLOSE_GRACE = 0.5
_probe_counter = itertools.count()


def is_live_file(folder: Path, path: str | os.PathLike[str]) -> bool:
    """A .py file that is not hidden, not in a hidden folder or __pycache__, not an editor temp."""
    try:
        parts = Path(path).relative_to(folder).parts
    except ValueError:
        return False
    return bool(parts) and parts[-1].endswith(".py") and not any(_is_ignored_name(part) for part in parts)


def _is_ignored_name(name: str) -> bool:
    return name.startswith((".", "#", "~")) or name == "__pycache__" or "___jb_" in name


def is_watched_dir(folder: Path, path: str | os.PathLike[str]) -> bool:
    try:
        parts = Path(path).relative_to(folder).parts
    except ValueError:
        return False
    return not any(_is_ignored_name(part) for part in parts)


Sink = Callable[[str, float], None]


class LiveFolderHandler(FileSystemEventHandler):
    """Turns watchdog events into (path, delay) for the coalescer; ignores everything else."""

    def __init__(self, folder: Path, sink: Sink, *, close_events: bool) -> None:
        self.folder = folder
        self.sink = sink
        self.close_events = close_events
        self.probe_seen: dict[str, threading.Event] = {}

    def dispatch(self, event: FileSystemEvent) -> None:
        paths = [os.fsdecode(event.src_path)]
        if isinstance(event, (FileMovedEvent, DirMovedEvent)):
            paths.append(os.fsdecode(event.dest_path))
        for path in paths:
            seen = self.probe_seen.get(path)
            if seen is not None:
                seen.set()
        if isinstance(event, (DirCreatedEvent, DirDeletedEvent, DirMovedEvent)):
            # A folder moved in or out carries files no event names: rescan it.
            for path in paths:
                if is_watched_dir(self.folder, path):
                    self.sink(path, 0.0)
            return
        if isinstance(event, (FileClosedEvent, FileDeletedEvent, FileMovedEvent)):
            delay = 0.0
        elif isinstance(event, (FileModifiedEvent, FileCreatedEvent)):
            delay = CLOSE_GRACE if self.close_events else QUIET_PERIOD
        else:
            return
        for path in paths:
            if is_live_file(self.folder, path):
                self.sink(path, delay)


@dataclass
class WatchMode:
    observer: BaseObserver
    mode: str  # "native" or "polling"
    backend: str
    reason: str


def _start(observer: BaseObserver, folder: Path, handler: LiveFolderHandler) -> BaseObserver:
    observer.schedule(handler, str(folder), recursive=True)
    observer.daemon = True
    observer.start()
    return observer


def _polling(folder: Path, sink: Sink, reason: str) -> WatchMode:
    handler = LiveFolderHandler(folder, sink, close_events=False)
    observer = _start(PollingObserver(timeout=POLL_INTERVAL), folder, handler)
    return WatchMode(observer, "polling", "PollingObserver", reason)


def _probe(folder: Path, handler: LiveFolderHandler) -> bool | None:
    """True if a file written now is reported; None if the folder is not writable (no probe)."""
    probe = folder / f"{PROBE_PREFIX}{os.getpid()}-{next(_probe_counter)}"
    seen = handler.probe_seen[str(probe)] = threading.Event()
    try:
        try:
            probe.write_bytes(b"")
        except OSError:
            return None
        return seen.wait(PROBE_TIMEOUT)
    finally:
        handler.probe_seen.pop(str(probe), None)
        try:
            probe.unlink()
        except OSError:
            pass


def start_observer(folder: Path, sink: Sink, *, force_polling: str = "") -> WatchMode:
    """Start watching `folder` recursively; `force_polling` is the reason, when polling is forced."""
    if force_polling:
        return _polling(folder, sink, force_polling)
    native = Observer()
    backend = type(native).__name__
    close_events = backend == "InotifyObserver"
    handler = LiveFolderHandler(folder, sink, close_events=close_events)
    try:
        _start(native, folder, handler)
    except OSError as error:
        return _polling(folder, sink, f"the native watcher ({backend}) could not start: {error}")
    arrived = _probe(folder, handler)
    if arrived is False:
        native.stop()
        return _polling(
            folder, sink,
            f"no event from the native watcher ({backend}) within {PROBE_TIMEOUT:g} s: the file system "
            "does not deliver them (WSL /mnt drive, Docker bind mount or network share?)",
        )
    reason = "file events arrive" if arrived else "folder not writable, probe skipped"
    return WatchMode(native, "native", backend, reason)
