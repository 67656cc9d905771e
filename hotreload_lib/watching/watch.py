"""Watch the live folder: watchdog's native observer, or its polling observer where native events
do not arrive. Imported lazily (watchdog's import costs ~50 ms), from the reloader's own thread.

The choice is made in one place, `start_observer`, and said in one log line:
- polling when forced (env HOT_RELOAD_POLLING=1 or the setting);
- polling when the native observer cannot start (inotify watch or instance limits);
- polling when it starts but a probe file's event does not arrive within PROBE_TIMEOUT (WSL's
  /mnt drives, Docker Desktop bind mounts, network shares start fine and then stay silent).

Symlinked folders inside the live folder are not followed, by either observer (a link back up
would otherwise make every file appear again under longer and longer paths).
"""
from __future__ import annotations

import errno
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from watchdog.observers.polling import PollingObserverVFS

log = logging.getLogger("hot_reload")

PROBE_PREFIX = ".hot-reload-probe-"
PROBE_TIMEOUT = 1.0
POLL_INTERVAL = 0.5
# Start failures that mean the folder itself is gone: polling it would not help.
FOLDER_GONE = (errno.ENOENT, errno.ENOTDIR)
LIMIT_HINTS = {
    errno.ENOSPC: "raise the limit: sudo sysctl fs.inotify.max_user_watches=524288",
    errno.EMFILE: "raise the limit: sudo sysctl fs.inotify.max_user_instances=512",
}
# Without close-after-write events, a save is taken as complete after this much quiet.
QUIET_PERIOD = 0.05
# With them, a "modified" that no close follows (a writer that keeps the file open) still runs.
CLOSE_GRACE = 0.5
_probe_counter = itertools.count()


LIVE_SUFFIXES = (".py",)


def is_live_file(folder: Path, path: str | os.PathLike[str], suffixes: tuple[str, ...] = LIVE_SUFFIXES) -> bool:
    """A file with one of `suffixes` that is not hidden, not in a hidden folder or __pycache__, not an
    editor temp."""
    try:
        parts = Path(path).relative_to(folder).parts
    except ValueError:
        return False
    return bool(parts) and parts[-1].endswith(suffixes) and not any(_is_ignored_name(part) for part in parts)


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

    def __init__(self, folder: Path, sink: Sink, *, close_events: bool, suffixes: tuple[str, ...]) -> None:
        self.folder = folder
        self.sink = sink
        self.close_events = close_events
        self.suffixes = suffixes
        self.markers: dict[str, Marker] = {}

    def dispatch(self, event: FileSystemEvent) -> None:
        # Runs on the observer's thread, which an exception would end: nothing may escape.
        try:
            self._dispatch(event)
        except Exception:
            log.exception("[Hot Reload] could not handle the file event %r", event)

    def _dispatch(self, event: FileSystemEvent) -> None:
        for path in _paths_of(event):
            marker = self.markers.get(path)
            if marker is not None:
                (marker.gone if isinstance(event, FileDeletedEvent) else marker.appeared).set()
        for path, delay in self.due(event):
            self.sink(path, delay)

    def due(self, event: FileSystemEvent) -> list[tuple[str, float]]:
        """The paths `event` makes due, each with its delay; none for an event that does not count."""
        paths = _paths_of(event)
        quiet = CLOSE_GRACE if self.close_events else QUIET_PERIOD
        if isinstance(event, (DirCreatedEvent, DirDeletedEvent, DirMovedEvent)):
            # A folder moved in or out carries files no event names: rescan it. One that appears is
            # scanned after the quiet period, so files still being written into it run complete
            # (through their own events first); one that is gone is handled at once.
            appeared = paths[-1] if isinstance(event, (DirCreatedEvent, DirMovedEvent)) else ""
            return [(path, quiet if path == appeared else 0.0) for path in paths if is_watched_dir(self.folder, path)]
        if isinstance(event, (FileClosedEvent, FileDeletedEvent, FileMovedEvent)):
            delay = 0.0
        elif isinstance(event, (FileModifiedEvent, FileCreatedEvent)):
            delay = quiet
        else:
            return []
        return [(path, delay) for path in paths
                if is_live_file(self.folder, path, self.suffixes) and not in_symlinked_folder(self.folder, path)]


def _paths_of(event: FileSystemEvent) -> list[str]:
    paths = [os.fsdecode(event.src_path)]
    if isinstance(event, (FileMovedEvent, DirMovedEvent)):
        paths.append(os.fsdecode(event.dest_path))
    return paths


def in_symlinked_folder(folder: Path, path: str) -> bool:
    """True when `path` lies below a symlinked folder inside `folder` (watched through the link)."""
    parent = os.path.dirname(path)
    root = str(folder)
    while len(parent) > len(root) and parent.startswith(root):
        if os.path.islink(parent):
            return True
        parent = os.path.dirname(parent)
    return False


@dataclass(frozen=True)
class Marker:
    """What the watcher reported of a marker file (send_marker)."""

    appeared: threading.Event = field(default_factory=threading.Event)
    gone: threading.Event = field(default_factory=threading.Event)


@dataclass
class WatchMode:
    observer: BaseObserver
    handler: LiveFolderHandler
    mode: str  # "native" or "polling"
    backend: str
    reason: str
    fallback: bool = False  # polling because native events failed, not because it was asked for

    def is_alive(self) -> bool:
        """The observer's thread and every emitter thread run (an emitter may end alone, e.g.
        inotify's when the watched folder is deleted)."""
        return self.observer.is_alive() and all(emitter.is_alive() for emitter in list(self.observer.emitters))


def _start(observer: BaseObserver, folder: Path, handler: LiveFolderHandler,
           on_seen: Callable[[], None]) -> BaseObserver:
    observer.schedule(handler, str(folder), recursive=True)
    _tell_early(observer, handler, on_seen)
    observer.daemon = True
    observer.start()
    return observer


def _tell_early(observer: BaseObserver, handler: LiveFolderHandler, on_seen: Callable[[], None]) -> None:
    """Call `on_seen` for an event that counts as soon as the emitter's thread queues it, one thread
    hand-off before the observer's thread dispatches it: beside a thread that holds the GIL without
    pause (a generation on the CPU), each hand-off waits up to the switch interval, and `on_seen` is
    what shortens it (switching.py). The queue is this observer's own, so wrapping its put() on the
    instance touches nothing shared."""
    queue = observer.event_queue
    put = queue.put

    def put_and_tell(item: Any, *args: Any, **kwargs: Any) -> None:
        try:
            if handler.due(item[0]):
                on_seen()
        except Exception:  # the emitter's thread ends on an exception: the event must still go
            log.debug("[Hot Reload] early notice of %r failed", item, exc_info=True)
        put(item, *args, **kwargs)

    queue.put = put_and_tell


def _polling(folder: Path, sink: Sink, reason: str, suffixes: tuple[str, ...], *, fallback: bool = False,
             on_seen: Callable[[], None]) -> WatchMode:
    handler = LiveFolderHandler(folder, sink, close_events=False, suffixes=suffixes)
    # lstat: a symlinked folder is not descended into (a link loop would be walked ~40 levels deep),
    # and a symlinked file changes when the link does: what native events report too.
    observer = PollingObserverVFS(os.lstat, os.scandir, polling_interval=POLL_INTERVAL)  # type: ignore[arg-type]
    _start(observer, folder, handler, on_seen)
    return WatchMode(observer, handler, "polling", "PollingObserver", reason, fallback)


def send_marker(folder: Path, handler: LiveFolderHandler, timeout: float, *, round_trip: bool = False) -> bool | None:
    """Write a hidden marker file into `folder` and wait until `handler` hears of it: True when it
    did within `timeout`, False when not, None when the folder is not writable. With `round_trip`,
    the marker is then removed and its removal waited for too: by then every change made to the
    folder before the marker was written has been dispatched to the handler. A native watcher
    reports events in the order they happened; a polling one reports a file's removal in a later
    scan than the one that found it, and that scan's events all go out before the next scan's."""
    path = folder / f"{PROBE_PREFIX}{os.getpid()}-{next(_probe_counter)}"
    marker = handler.markers[str(path)] = Marker()
    deadline = time.monotonic() + timeout
    try:
        try:
            path.write_bytes(b"")
        except OSError:
            return None
        if not marker.appeared.wait(timeout):
            return False
        if not round_trip:
            return True
        path.unlink()
        return marker.gone.wait(max(0.0, deadline - time.monotonic()))
    except OSError:  # removed by someone else, or the folder went away meanwhile
        return None
    finally:
        handler.markers.pop(str(path), None)
        try:
            path.unlink()
        except OSError:
            pass


def start_observer(folder: Path, sink: Sink, *, force_polling: str = "", suffixes: tuple[str, ...] = LIVE_SUFFIXES,
                   native: Callable[[], BaseObserver] = Observer,
                   on_seen: Callable[[], None] = lambda: None) -> WatchMode:
    """Start watching `folder` recursively; `force_polling` is the reason, when polling is forced.
    `sink` gets each due path on the observer's thread; `on_seen` hears of it earlier (_tell_early).

    `native` makes the observer tried first: watchdog's best for the platform. (Tests pass one
    whose start fails the way an exhausted inotify does.) Raises OSError when `folder` is gone.
    """
    if force_polling:
        return _polling(folder, sink, force_polling, suffixes, on_seen=on_seen)
    observer = native()
    backend = type(observer).__name__
    # Only inotify reports close-after-write; its class is named, not imported (it cannot load elsewhere).
    close_events = any(klass.__name__ == "InotifyObserver" for klass in type(observer).__mro__)
    handler = LiveFolderHandler(folder, sink, close_events=close_events, suffixes=suffixes)
    try:
        _start(observer, folder, handler, on_seen)
    except OSError as error:
        if error.errno in FOLDER_GONE or not folder.is_dir():
            raise
        hint = LIMIT_HINTS.get(error.errno or 0, "")
        reason = f"the native watcher ({backend}) could not start: {error}" + (f"; {hint}" if hint else "")
        return _polling(folder, sink, reason, suffixes, fallback=True, on_seen=on_seen)
    arrived = send_marker(folder, handler, PROBE_TIMEOUT)
    if arrived is False:
        observer.stop()
        return _polling(
            folder, sink,
            f"no event from the native watcher ({backend}) within {PROBE_TIMEOUT:g} s: the file system "
            "does not deliver them (WSL /mnt drive, Docker bind mount or network share?)",
            suffixes, fallback=True, on_seen=on_seen,
        )
    reason = "file events arrive" if arrived else "folder not writable, probe skipped"
    return WatchMode(observer, handler, "native", backend, reason)
