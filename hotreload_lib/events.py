"""Reload events as data: one typed record that the log line, the JSON CLI, the event stream and
the page all render. A plain dataclass, so it serialises the same beside pydantic 1, pydantic 2 or
no pydantic at all.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger("hot_reload")
Outcome = Literal["ok", "updated", "error", "removed", "running", "deferred", "info"]
HISTORY_SIZE = 500


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    file: str
    line: int | None
    traceback: str

    @property
    def summary(self) -> str:
        """`ValueError: boom`, or just `KeyboardInterrupt` when there is no message."""
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True)
class ReloadEvent:
    """One reload (or notice) of one live file. `seq` orders events; ids in the stream are seqs."""

    seq: int
    time: float
    file: str  # path relative to the live folder, '/'-separated
    path: str  # absolute path on the server
    outcome: Outcome
    message: str
    duration_ms: float = 0.0
    replaced: tuple[dict[str, str], ...] = ()
    restored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: ErrorInfo | None = None
    # A tracked tree's events: the modules updated in place and what changed in them (name, kind,
    # action), or the page asset that changed ("css" with the `url` pages link it by, or "js").
    modules: tuple[str, ...] = ()
    changed: tuple[dict[str, str], ...] = ()
    asset: str = ""
    url: str = ""
    needs: str = ""  # what the user must do to see all of it: "reload_ui", "reload_page", or nothing

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["replaced"] = list(self.replaced)
        data["restored"] = list(self.restored)
        data["notes"] = list(self.notes)
        data["modules"] = list(self.modules)
        data["changed"] = list(self.changed)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def log_line(self) -> str:
        where = f" ({self.error.file}:{self.error.line})" if self.error and self.error.line else ""
        about = f"{self.file}: " if self.file not in ("", ".") else ""  # "." is the folder itself
        return f"[Hot Reload] {about}{self.message}{where}"


@dataclass
class EventLog:
    """The last HISTORY_SIZE events, with sequential ids and wake-ups for waiting readers."""

    size: int = HISTORY_SIZE
    _events: deque[ReloadEvent] = field(init=False)
    _seq: int = field(default=0, init=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False)
    _listeners: list[Callable[[ReloadEvent], None]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._events = deque(maxlen=self.size)

    def publish(self, **fields: Any) -> ReloadEvent:
        with self._changed:
            self._seq += 1
            event = ReloadEvent(seq=self._seq, time=time.time(), **fields)
            self._events.append(event)
            self._changed.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a failing reader (a closed stdout, a page) must not stop the reloader
                log.exception("[Hot Reload] an event listener failed")
        return event

    @property
    def last_seq(self) -> int:
        with self._changed:
            return self._seq

    def since(self, seq: int) -> list[ReloadEvent]:
        """Events after `seq` still in memory (the oldest may have been dropped)."""
        with self._changed:
            return [event for event in self._events if event.seq > seq]

    def recent(self, count: int) -> list[ReloadEvent]:
        with self._changed:
            return list(self._events)[-count:] if count > 0 else []

    def wait_after(self, seq: int, timeout: float) -> list[ReloadEvent]:
        """Block until an event newer than `seq` exists, or `timeout` passes."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > seq, timeout=timeout)
            return [event for event in self._events if event.seq > seq]

    def subscribe(self, listener: Callable[[ReloadEvent], None]) -> Callable[[], None]:
        with self._changed:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._changed:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe


class Reporter:
    """Publishes the events of one watched folder: paths shown relative to it (after `prefix`, the
    folder's name, for a tracked tree), and each event's console line written before the event goes
    out, so whoever the event wakes finds the line."""

    def __init__(self, events: EventLog, folder: Path, prefix: str = "") -> None:
        self.events = events
        self.folder = folder
        self.prefix = prefix

    def display(self, path: Path) -> str:
        try:
            relative = path.relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)
        if not self.prefix:
            return relative
        return self.prefix if relative == "." else f"{self.prefix}/{relative}"

    def publish(self, path: Path, outcome: str, message: str, *, log_it: bool = True, **fields: Any) -> ReloadEvent:
        fields.update(file=self.display(path), path=str(path), outcome=outcome, message=message)
        if log_it:
            level = {"error": logging.ERROR, "running": logging.WARNING}.get(outcome, logging.INFO)
            log.log(level, ReloadEvent(seq=0, time=0.0, **fields).log_line())
        return self.events.publish(**fields)

    def notice(self, message: str, outcome: str, *, log_it: bool = True) -> ReloadEvent:
        """An event about the folder itself (its file is ".")."""
        return self.publish(self.folder, outcome, message, log_it=log_it)
