"""The page's window on the reloader: two read-only routes on the webui's own FastAPI app.

    GET ./hot-reload/events   Server-Sent Events: one `reload` message per ReloadEvent, id = its seq
    GET ./hot-reload/status   JSON: the live folder, watch mode, active replacements, recent events

Resuming: a page that reconnects sends `Last-Event-ID` (EventSource does it by itself) or `?since=N`
and gets every event after N, once. A page that connects fresh gets only a `hello` (whose id is the
newest seq) and then what happens from now on: old history is not replayed as toasts. A seq beyond
the newest means the webui process was restarted (seqs start again at 1): the page then gets this
process's events from the start, which are exactly the ones it missed.

Neither route runs code or reads a file; with gradio auth on the app both want the login cookie.
Host-agnostic: host.py says where to add them (A1111/Forge: `app.add_api_route`; SD.Next: its API).
"""
from __future__ import annotations

import asyncio
import inspect
import json
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from .events import EventLog, ReloadEvent
from .registry import PatchRegistry, get_registry
from .reloader import Reloader, get_events, get_reloader

EVENTS_PATH = "/hot-reload/events"
STATUS_PATH = "/hot-reload/status"
HEARTBEAT_SECONDS = 15.0
# How often an idle stream checks that the server is not shutting down. The webui's "Reload UI"
# closes the server, which waits for every open response to finish: a stream that never ended
# would hang it.
CLOSING_CHECK_SECONDS = 1.0
RECONNECT_MS = 2000
RECENT_EVENTS = 50
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies would otherwise buffer the stream.
    "X-Accel-Buffering": "no",
    # The webui adds GZipMiddleware, which buffers a streamed body inside the compressor until it
    # ends (Starlette before 0.41); a response that already names its encoding is passed through.
    "Content-Encoding": "identity",
}

AddRoute = Callable[..., Any]


@dataclass(frozen=True)
class Feed:
    """What the routes and the status view read: the event log, the patch registry, and the reloader
    of the moment (there is none while hot reload is off)."""

    events: EventLog
    registry: PatchRegistry
    reloader: Callable[[], Reloader | None]
    # Why hot reload cannot run, when the host knows (e.g. --hot-reload-dir names no folder).
    problem: Callable[[], str] = lambda: ""


def process_feed(problem: Callable[[], str] = lambda: "") -> Feed:
    """The feed of this process's reloader (the one the webui runs)."""
    return Feed(get_events(), get_registry(), get_reloader, problem)


def never_closing() -> bool:
    return False


def server_closing(demo: Any) -> Callable[[], bool]:
    """Whether gradio is closing the server of `demo` (3.x and 4.x: `demo.server.should_exit`),
    without keeping the demo alive: the webui makes a new one on each "Reload UI"."""
    demo_ref = weakref.ref(demo)

    def closing() -> bool:
        current = demo_ref()
        return current is None or bool(getattr(getattr(current, "server", None), "should_exit", False))

    return closing


# -- status -----------------------------------------------------------------------------------
def owner_file(owner: str, folder: Path | None) -> str:
    """A replacement's owner as the page shows it: the live file relative to the folder."""
    if folder is not None:
        try:
            return Path(owner).relative_to(folder).as_posix()
        except ValueError:
            pass
    return owner


def status(feed: Feed, recent: int = RECENT_EVENTS) -> dict[str, Any]:
    reloader = feed.reloader()
    problem = feed.problem()
    if reloader is not None:
        state = reloader.status()
    else:
        state = {"folder": None, "running": False, "mode": "off", "mode_reason": problem or "hot reload is off",
                 "files": {}, "failing": [], "pending": 0, "waiting": [],
                 "tracked": []}
    if not problem and state["mode"] == "inactive":
        problem = state["mode_reason"]
    folder = reloader.folder if reloader is not None else None
    active = [{**row, "owner_file": owner_file(row["owner"], folder)} for row in feed.registry.active()]
    return {
        **state,
        "problem": problem,
        "active": active,
        "last_seq": feed.events.last_seq,
        "recent": [event.to_dict() for event in feed.events.recent(recent)],
    }


# -- auth ---------------------------------------------------------------------------------------
def login_required(app: Any) -> bool:
    return getattr(app, "auth", None) is not None or getattr(app, "auth_dependency", None) is not None


async def logged_in(app: Any, request: Request) -> bool:
    """Whether the request carries the gradio login of `app`, as gradio checks it itself:
    gradio 3.x keeps the session token in cookie `access-token` (or `access-token-unsecure`), 4.x in
    `access-token-<app.cookie_id>` (or `access-token-unsecure-<cookie_id>`); a token counts when it
    is one of `app.tokens`. gradio 4's `auth_dependency` (mount_gradio_app) decides by itself (and
    may be a coroutine function in later gradio)."""
    dependency = getattr(app, "auth_dependency", None)
    if dependency is not None:
        user = dependency(request)
        if inspect.isawaitable(user):
            user = await user
        return user is not None
    tokens = getattr(app, "tokens", None) or {}
    cookie_id = getattr(app, "cookie_id", None)
    suffix = f"-{cookie_id}" if cookie_id else ""
    for name in (f"access-token{suffix}", f"access-token-unsecure{suffix}"):
        token = request.cookies.get(name)
        if token and tokens.get(token) is not None:
            return True
    return False


async def _refuse_without_login(request: Request) -> JSONResponse | None:
    """None when the request may proceed, else the 401 response."""
    app = request.app
    if not login_required(app) or await logged_in(app, request):
        return None
    return JSONResponse({"detail": "Not authenticated: log in to the webui first"}, status_code=401)


# -- the event stream -------------------------------------------------------------------------
def sse_message(data: dict[str, Any], *, event: str, id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if id is not None:
        lines.append(f"id: {id}")
    # json.dumps never emits a raw newline, so the data is always one line.
    lines.append("data: " + json.dumps(data, ensure_ascii=False))
    return "\n".join(lines) + "\n\n"


def resume_point(last_event_id: str | None, since: str | None, newest: int) -> int:
    """The seq after which this connection's events start (see the module docstring)."""
    for value in (last_event_id, since):
        if value is None or not value.strip():
            continue
        try:
            seq = int(value.strip())
        except ValueError:
            continue
        return 0 if seq > newest or seq < 0 else seq
    return newest


async def event_stream(events: EventLog, start: int, greeting: dict[str, Any] | None = None, *,
                       closing: Callable[[], bool] = never_closing,
                       heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[str]:
    """The SSE body. Waits on the event loop (woken by the log's publish, from the reloader's
    thread), so an idle stream holds no thread. Ends when the server shuts down; the host ends it
    (cancels it) when the client goes away."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def on_publish(_event: ReloadEvent) -> None:
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # the server's loop is closed: this stream is over anyway
            pass

    unsubscribe = events.subscribe(on_publish)
    try:
        missed = events.since(start)
        dropped = bool(missed) and missed[0].seq > start + 1
        hello = {**(greeting or {}), "start": start, "last_seq": events.last_seq, "dropped": dropped}
        yield f"retry: {RECONNECT_MS}\n" + sse_message(hello, event="hello", id=start)
        seq, quiet_since = start, loop.time()
        while True:
            wake.clear()
            for event in events.since(seq):
                seq = event.seq
                quiet_since = loop.time()
                yield sse_message(event.to_dict(), event="reload", id=event.seq)
            if closing():
                return
            try:
                await asyncio.wait_for(wake.wait(), timeout=min(CLOSING_CHECK_SECONDS, heartbeat))
            except asyncio.TimeoutError:
                pass
            if loop.time() - quiet_since >= heartbeat:
                quiet_since = loop.time()
                yield ": keep-alive\n\n"
    finally:
        unsubscribe()


# -- the routes -------------------------------------------------------------------------------
def has_routes(app: Any) -> bool:
    return any(getattr(route, "path", None) == EVENTS_PATH for route in getattr(app, "routes", []))


def add_routes(app: Any, feed: Feed, *, closing: Callable[[], bool] = never_closing,
               add_route: AddRoute | None = None, heartbeat: float = HEARTBEAT_SECONDS) -> bool:
    """Add the two routes to `app` unless it has them; True when they were added.

    `add_route(path, endpoint, methods=[...])` registers a route (default: `app.add_api_route`;
    SD.Next's API registrar adds its subpath copy and auth). `closing()` says that the server is
    shutting down, so open streams end and let it.
    """
    if has_routes(app):
        return False
    register = add_route or app.add_api_route

    async def hot_reload_events(request: Request) -> Any:
        refused = await _refuse_without_login(request)
        if refused is not None:
            return refused
        start = resume_point(request.headers.get("last-event-id"), request.query_params.get("since"),
                             feed.events.last_seq)
        state = status(feed, recent=0)
        greeting = {key: state[key] for key in ("folder", "mode", "mode_reason", "problem")}
        body = event_stream(feed.events, start, greeting, closing=closing, heartbeat=heartbeat)
        return StreamingResponse(body, media_type="text/event-stream", headers=STREAM_HEADERS)

    async def hot_reload_status(request: Request) -> Any:
        refused = await _refuse_without_login(request)
        if refused is not None:
            return refused
        return JSONResponse(status(feed))

    register(EVENTS_PATH, hot_reload_events, methods=["GET"], include_in_schema=False)
    register(STATUS_PATH, hot_reload_status, methods=["GET"], include_in_schema=False)
    return True
