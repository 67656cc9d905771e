"""Apply and report: wait until every file saved before a call has been handled, then say what
happened. What `POST ./hot-reload/apply` (server.py), `watch --port` (below) and the `apply` command
(client.py) are made of.

The guarantee. A call first sends a marker file through the watcher of every watched folder (the
live folder, each tracked tree; watch.send_marker): a hidden file written, reported, removed and
reported again. A watcher reports events in the order they happened (a polling one, scan by scan),
so once the marker is back every save made before the call has been heard, even one whose event was
still on its way: inotify's latency, a polling watcher's next scan, a busy machine. Then the call
waits until each of those saves has been handled (coalesce.py counts saves heard and handled): run
as a live file, applied to a tracked module, or found unchanged. A save that waits for a generation
is waited for too, or applied at once with `now`. Saves made after the call began are not waited
for; those handled meanwhile are reported. Where no marker can pass (a folder that is not writable,
not watched now, or a watcher that does not report it within MARKER_TIMEOUT), the call says so in
`notes` and waits only for the saves heard.

The answer: the events published since the previous call's answer (or `since`), the files failing
now (also those whose failed save an earlier call reported), `ok` when none fails and nothing is
left, what is still pending, and `last_seq` to pass as `since` next time. Past `timeout`: 504, `ok` false.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..client import APPLY_PATH, DEFAULT_TIMEOUT
from ..events import ReloadEvent
from ..reloader import Reloader
from .origin import cross_site, refusal_message

__all__ = ["APPLY_PATH", "ApplyAsk", "ApplyServer", "answer", "answer_off_the_loop", "parse_ask"]

log = logging.getLogger("hot_reload")
MAX_TIMEOUT = 300.0
MARKER_TIMEOUT = 5.0  # a polling watcher needs two scans (0.5 s each) for a marker's round trip
WAIT_SLICE = 0.25  # s between looks at whether the waiter should give up (stopped, client gone)
NOW_SLICE = 0.02  # with `now`: how soon a save that has just begun to wait for a generation is applied
OK, TIMED_OUT, STOPPED, FAILED_INTERNALLY = 200, 504, 503, 500


@dataclass(frozen=True)
class ApplyAsk:
    timeout: float = DEFAULT_TIMEOUT
    now: bool = False  # apply what waits for a generation at once (the page's "Apply now")
    since: int | None = None  # report the events after this seq (default: after the previous answer)


def parse_ask(params: Mapping[str, str]) -> ApplyAsk:
    """The call's query parameters; ValueError with a message for the caller when one is wrong."""
    try:
        timeout = float(params.get("timeout", DEFAULT_TIMEOUT))
    except ValueError:
        raise ValueError(f"timeout must be a number of seconds, not {params['timeout'][:50]!r}") from None
    if not 0 <= timeout < float("inf"):
        raise ValueError(f"timeout must be 0 or more seconds (at most {MAX_TIMEOUT:g} are used)")
    now = params.get("now", "").strip().lower()
    if now not in ("", "0", "1", "true", "false"):
        raise ValueError(f"now must be 1 or 0, not {now[:50]!r}")
    since = params.get("since")
    if since is not None and not since.strip().isdigit():
        raise ValueError(f"since must be an event id (a whole number, 0 or more), not {since[:50]!r}")
    return ApplyAsk(min(timeout, MAX_TIMEOUT), now in ("1", "true"), int(since) if since is not None else None)


def answer(reloader: Reloader, ask: ApplyAsk, stop: Callable[[], bool] = lambda: False) -> tuple[int, dict[str, Any]]:
    """Wait as the module docstring says (on the calling thread), then the HTTP status and the
    answer. `stop()` true ends the wait early (the client went away, the server shuts down)."""
    deadline = time.monotonic() + ask.timeout

    def remaining() -> float:
        return max(0.0, deadline - time.monotonic())

    events = reloader.events
    start = reloader.answered_up_to if ask.since is None else ask.since
    if start > events.last_seq:  # an id of an earlier process of the webui: this one's events are new
        start = 0
    notes: list[str] = []
    started = reloader.wait_until_watching(ask.timeout)
    if started:
        notes += reloader.pass_markers(min(MARKER_TIMEOUT, remaining()))
    heard = reloader.saves_heard
    left = reloader.unhandled(heard)
    while left and remaining() > 0 and reloader.running and not stop():
        if ask.now and any(path in reloader.gate.waiting for path in left):
            reloader.apply_now()
        left = reloader.wait_handled(heard, min(remaining(), NOW_SLICE if ask.now else WAIT_SLICE))
    stopped = not reloader.running or stop()
    timed_out = not stopped and (not started or bool(left))
    body = report(reloader, start, notes)
    body["timed_out"] = timed_out
    body["ok"] = body["ok"] and not timed_out and not stopped
    if stopped:
        body["detail"] = "hot reload stopped while the call waited" if not reloader.running else "the call was ended"
        return STOPPED, body
    if timed_out:
        what = "hot reload to start" if not started else f"{len(left)} saved file(s) to be applied"
        body["detail"] = f"timed out after {ask.timeout:g} s waiting for {what}"
        return TIMED_OUT, body
    return OK, body


def report(reloader: Reloader, start: int, notes: list[str]) -> dict[str, Any]:
    """The events after seq `start` up to now, whether their files are fine, what is left."""
    events = reloader.events
    up_to = events.last_seq
    reported = [event for event in events.since(start) if event.seq <= up_to]
    dropped = max(0, reported[0].seq - start - 1) if reported else max(0, up_to - start)
    reloader.answered_up_to = max(reloader.answered_up_to, up_to)
    newest: dict[str, ReloadEvent] = {event.file: event for event in reported}
    failed = [event.file for event in newest.values() if event.outcome == "error"]
    # A file that failed at an earlier save and was not saved since: the webui does not run it as
    # it is on disk either, and a retry of the call must not answer ok.
    failing = [event.file for event in reloader.failing()]
    waiting = list(reloader.gate.waiting)
    if dropped:
        notes.append(f"{dropped} earlier events are no longer in memory: the Hot Reload tab shows what fails now")
    return {
        "ok": not failed and not failing,
        "failed": failed,
        "failing": failing,
        "events": [event.to_dict() for event in reported],
        "pending": [reloader.display(path) for path in reloader.unhandled()],
        "waiting": reloader.gate.reason() if waiting else "",
        "notes": notes,
        "since": start,
        "last_seq": up_to,
        "dropped": dropped,
    }


def _internal_error(error: BaseException) -> tuple[int, dict[str, Any]]:
    log.error("[Hot Reload] the apply call failed", exc_info=error)
    return FAILED_INTERNALLY, {"ok": False, "detail": f"internal error of hot reload: {error!r}"}


# -- on the webui's server (server.py): the wait on a thread of its own ---------------------------------
async def _until_disconnected(receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    while (await receive()).get("type") != "http.disconnect":
        pass


async def answer_off_the_loop(reloader: Reloader, ask: ApplyAsk, receive: Callable[[], Awaitable[dict[str, Any]]],
                              closing: Callable[[], bool]) -> tuple[int, dict[str, Any]]:
    """answer() on a thread of its own, so the server's event loop serves everything else meanwhile
    (and the threads gradio runs its handlers on are not held). A client that goes away, or a
    server that shuts down, ends the wait within WAIT_SLICE: no waiter outlives its request."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[tuple[int, dict[str, Any]]] = loop.create_future()
    ended = threading.Event()

    def settle(outcome: tuple[int, dict[str, Any]]) -> None:
        if not result.done():
            result.set_result(outcome)

    def wait() -> None:
        try:
            outcome = answer(reloader, ask, ended.is_set)
        except Exception as error:  # noqa: BLE001 - a bug here must answer, not leave the request hanging
            outcome = _internal_error(error)
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:  # the loop is closed: nobody waits for the answer
            pass

    threading.Thread(target=wait, name="hot-reload-apply", daemon=True).start()
    disconnected = asyncio.ensure_future(_until_disconnected(receive))
    try:
        while not result.done() and not disconnected.done() and not closing():
            await asyncio.wait({result, disconnected}, timeout=WAIT_SLICE, return_when=asyncio.FIRST_COMPLETED)
    finally:
        disconnected.cancel()
        if not result.done():
            ended.set()
    if result.done():
        return result.result()
    return STOPPED, {"ok": False, "detail": "the client went away or the server is shutting down"}


# -- without a webui: `python -m hotreload_lib watch DIR --port N` -------------------------------------
class _ApplyHandler(BaseHTTPRequestHandler):
    server: ApplyServer

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != APPLY_PATH:
            self._send(404, {"detail": f"Not Found: this server answers POST {APPLY_PATH} only"})
            return
        why = cross_site(self.headers, changes_state=True)
        if why:
            self._send(403, {"detail": refusal_message(why)})
            return
        reloader = self.server.reloader()
        if reloader is None or not reloader.running:
            self._send(404, {"detail": "Hot reload is off: there is nothing to apply"})
            return
        try:
            ask = parse_ask(dict(parse_qsl(url.query, keep_blank_values=True)))
        except ValueError as error:
            self._send(400, {"detail": str(error)})
            return
        try:
            self._send(*answer(reloader, ask))
        except Exception as error:  # noqa: BLE001 - the caller gets an answer; the watcher goes on
            self._send(*_internal_error(error))

    def do_GET(self) -> None:
        self._send(405, {"detail": "Method Not Allowed: POST"})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("[Hot Reload] apply server: " + format, *args)


class ApplyServer(ThreadingHTTPServer):
    """Answers POST /hot-reload/apply on 127.0.0.1 for the reloader of the moment, each call on a
    thread of its own (a call ends at its timeout at the latest)."""

    daemon_threads = True

    def __init__(self, reloader: Callable[[], Reloader | None], port: int, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), _ApplyHandler)
        self.reloader = reloader

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, name="hot-reload-apply-server", daemon=True).start()
