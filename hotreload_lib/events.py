"""Reload events as data: one typed record that the log line, the JSON CLI, the event stream and
the page all render. A plain dataclass, so it serialises the same beside pydantic 1, pydantic 2 or
no pydantic at all.

Every event is small: the log caps each of its fields as it publishes it (a live file that raises
`ValueError("x" * 20_000_000)` must not make a 60 MB event that every page, the history and
/hot-reload/status carry). The console line, made from the fields before that, shows up to
CONSOLE_LINE_LIMIT characters of the message.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger("hot_reload")
Outcome = Literal["ok", "updated", "error", "removed", "running", "deferred", "info"]
HISTORY_SIZE = 500
FIELD_LIMIT = 4_096  # characters of one text field of an event: a message, a note, a name
TRACEBACK_LIMIT = 16_384  # a traceback keeps its start (the live file's frames) and its end (the error)
ITEMS_LIMIT = 50  # entries of one list field (replaced, restored, notes); a note says how many more
CONSOLE_LINE_LIMIT = 65_536
# Files whose newest event the log remembers, the least recently named forgotten first: a page that
# catches up keeps a toast of a forgotten file (it cannot tell it was settled), never loses one.
NEWEST_LIMIT = 10_000


@cache
def _console_escapes() -> dict[int, str]:
    """What the console shows escaped: C0 and C1 control characters and DEL (a file name or a
    message holding ESC[2J must not clear the user's terminal, nor a newline forge a line of its
    own), the Unicode line breaks, and the bidirectional overrides that make text read otherwise."""
    escapes = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}
    escapes.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"})
    unicode = [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    escapes.update({code: f"\\u{code:04x}" for code in unicode})
    return escapes


def size_in_bytes(text: str) -> int:
    # isascii() is O(1) on CPython: a huge ASCII message is not encoded just to be measured.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def capped(text: str, limit: int = FIELD_LIMIT, *, keep_end: bool = False) -> str:
    """`text` when it has at most `limit` characters; else its start (and with `keep_end`, its end)
    around a marker saying how big it was."""
    if len(text) <= limit:
        return text
    marker = f"… (truncated, {size_in_bytes(text):,} bytes)"
    if keep_end:
        tail = limit // 3
        return f"{text[:limit - tail]}\n{marker} …\n{text[-tail:]}"
    return text[:limit] + marker


def console_line(text: str, limit: int = CONSOLE_LINE_LIMIT) -> str:
    """`text` fit for one console line: control characters escaped (ESC as \\x1b), at most `limit`
    characters, the rest replaced by a marker."""
    shown = text[:limit].translate(_console_escapes())
    if len(text) <= limit and len(shown) <= limit:
        return shown
    return shown[:limit] + f"… (truncated, {size_in_bytes(text):,} bytes)"


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
    # What it takes to see all of it: "reload_ui", "reload_page" or "restart" (the user's to do),
    # "reload_now" (part of the page was rebuilt in place: the open pages reload themselves), or nothing.
    needs: str = ""
    # "call": the error was raised when the webui called a replacement; the file's run had gone well.
    during: str = ""
    # With "reload_now": the page's parts (elem_ids) that an open page re-renders in place instead of
    # reloading (gradio 4's tabs), and the page build that shows them (the hello's "ui").
    rerender: tuple[str, ...] = ()
    ui: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["replaced"] = list(self.replaced)
        data["restored"] = list(self.restored)
        data["notes"] = list(self.notes)
        data["modules"] = list(self.modules)
        data["changed"] = list(self.changed)
        data["rerender"] = list(self.rerender)
        return data

    @cached_property
    def json_bytes(self) -> bytes:
        """The event as UTF-8 JSON, made once however many pages and commands send it. A file name
        that is not UTF-8 on disk holds lone surrogates, which UTF-8 cannot carry: they become JSON
        escapes (`\\udcff`), since every text of the record stands inside a JSON string."""
        return json.dumps(self.to_dict(), ensure_ascii=False).encode("utf-8", "backslashreplace")

    def to_json(self) -> str:
        return self.json_bytes.decode("utf-8")

    def log_line(self) -> str:
        where = f" ({self.error.file}:{self.error.line})" if self.error and self.error.line else ""
        about = f"{self.file}: " if self.file not in ("", ".") else ""  # "." is the folder itself
        head, tail = console_line(f"[Hot Reload] {about}"), console_line(where)
        # The message is cut on its own, before it joins the line: a 20 MB one is not copied again.
        return head + console_line(self.message, max(0, CONSOLE_LINE_LIMIT - len(head) - len(tail))) + tail


def _capped_items(items: Iterable[Any], cap: Callable[[Any], Any]) -> tuple[tuple[Any, ...], int]:
    """The first ITEMS_LIMIT items, each capped, and how many more there were."""
    items = tuple(items)
    return tuple(cap(item) for item in items[:ITEMS_LIMIT]), max(0, len(items) - ITEMS_LIMIT)


def _capped_value(value: Any) -> Any:
    return capped(value) if isinstance(value, str) else value


def capped_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """An event's fields with every text capped at FIELD_LIMIT (a traceback at TRACEBACK_LIMIT) and
    every list at ITEMS_LIMIT entries, a note saying how many were left out."""
    fields = {key: _capped_value(value) for key, value in fields.items()}
    notes, more_notes = _capped_items(fields.get("notes", ()), _capped_value)
    left_out = [f"… and {more_notes} more notes"] if more_notes else []
    if "replaced" in fields:
        replaced, more = _capped_items(fields["replaced"], lambda item: {k: _capped_value(v) for k, v in item.items()})
        fields["replaced"] = replaced
        left_out += [f"… and {more} more replacements (the Hot Reload tab lists them all)"] if more else []
    if "restored" in fields:
        restored, more = _capped_items(fields["restored"], _capped_value)
        fields["restored"] = restored
        left_out += [f"… and {more} more restored"] if more else []
    if "changed" in fields:
        changed, more = _capped_items(fields["changed"], lambda item: {k: _capped_value(v) for k, v in item.items()})
        fields["changed"] = changed
        left_out += [f"… and {more} more changes"] if more else []
    if notes or left_out:
        fields["notes"] = notes + tuple(left_out)
    error = fields.get("error")
    if error is not None:
        fields["error"] = dataclasses.replace(error, type=capped(error.type), message=capped(error.message),
                                              file=capped(error.file),
                                              traceback=capped(error.traceback, TRACEBACK_LIMIT, keep_end=True))
    return fields


@dataclass
class EventLog:
    """The last HISTORY_SIZE events, with sequential ids and wake-ups for waiting readers."""

    size: int = HISTORY_SIZE
    _events: deque[ReloadEvent] = field(init=False)
    _seq: int = field(default=0, init=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False)
    _listeners: list[Callable[[ReloadEvent], None]] = field(default_factory=list, init=False)
    # file -> seq of its newest event, kept past the history (up to NEWEST_LIMIT files, in the order
    # they were last named): what a page catching up needs to tell whether a toast was superseded.
    _newest: dict[str, int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._events = deque(maxlen=self.size)

    def publish(self, **fields: Any) -> ReloadEvent:
        """Record an event, its fields capped (see capped_fields), and wake its readers. Its JSON is
        made here, on the publisher's thread, so that no reader (the server's event loop) has to."""
        fields = capped_fields(fields)
        with self._changed:
            self._seq += 1
            event = ReloadEvent(seq=self._seq, time=time.time(), **fields)
            event.json_bytes  # noqa: B018 - made now, once, on the publishing thread (not the server loop)
            self._events.append(event)
            if event.file:
                self._newest.pop(event.file, None)
                self._newest[event.file] = event.seq
                if len(self._newest) > NEWEST_LIMIT:
                    del self._newest[next(iter(self._newest))]
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

    def newest_of_files(self) -> dict[str, int]:
        with self._changed:
            return dict(self._newest)

    @property
    def published(self) -> int:
        """How many events were published, read without the lock (one int: it is current or one
        behind a publish under way): the cheap way to tell that a copy of the history is current."""
        return self._seq

    def since(self, seq: int) -> list[ReloadEvent]:
        """Events after `seq` still in memory (the oldest may have been dropped). Seqs in the
        history follow each other, so the first one wanted is found by subtraction, not by a scan."""
        with self._changed:
            return self._after(seq)

    def _after(self, seq: int) -> list[ReloadEvent]:
        if not self._events:
            return []
        return list(itertools.islice(self._events, max(0, seq + 1 - self._events[0].seq), None))

    def recent(self, count: int) -> list[ReloadEvent]:
        with self._changed:
            return list(self._events)[-count:] if count > 0 else []

    def wait_after(self, seq: int, timeout: float) -> list[ReloadEvent]:
        """Block until an event newer than `seq` exists, or `timeout` passes."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > seq, timeout=timeout)
            return self._after(seq)

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

    def notice(self, message: str, outcome: str, *, log_it: bool = True, **fields: Any) -> ReloadEvent:
        """An event about the folder itself (its file is ".")."""
        return self.publish(self.folder, outcome, message, log_it=log_it, **fields)
