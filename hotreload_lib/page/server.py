"""The page's window on the reloader: routes on the webui's own FastAPI app.

    GET  ./hot-reload/events     Server-Sent Events: a `hello`, then one `reload` message per
                                 ReloadEvent (id = its seq), a `gap` for events it cannot send
    GET  ./hot-reload/status     JSON: the live folder, watch mode, active replacements, recent events
    POST ./hot-reload/apply-now  run what waits for the end of a generation now (the toast's button)
    POST ./hot-reload/reload-ui  the host's Reload UI, as soon as no generation runs (the toast's button)
    POST ./hot-reload/apply      wait until every file saved before the call is handled; JSON: what
                                 happened since the previous call (apply.py: scripts, tests, assistants)

Resuming: a page that reconnects sends `Last-Event-ID` (EventSource does it by itself) or `?since=N`
and gets every event after N, once. A page that connects fresh gets only a `hello` (whose id is the
newest seq) and then what happens from now on: old history is not replayed as toasts. A seq beyond
the newest means the webui process was restarted (seqs start again at 1): the page then gets this
process's events from the start, which are exactly the ones it missed. Events that left the history
before the page got them are named by a `gap` message (and `dropped` in the hello). How the stream
keeps a slow or stuck client from holding the server: stream.py.

No route runs code a request names or reads a file; the POST routes only ask the reloader to do
now what it would do anyway, or wait for it (run files saved in the watched folders; rebuild the page). With gradio
auth on the app every route wants the login cookie, and every route refuses requests made by another
site's page (gradio answers CORS `*`, so without auth any site open in the user's browser could
otherwise read them, or make the webui rebuild its page).
Host-agnostic: host.py says where to add them (A1111/Forge: `app.add_api_route`; SD.Next: its API).
"""
from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..events import EventLog
from ..patch.registry import PatchRegistry, get_registry
from ..reloader import Reloader, get_events, get_reloader
from .apply import APPLY_PATH, answer_off_the_loop, parse_ask
from .origin import cross_site, refusal_message
from .stream import HEARTBEAT_SECONDS, WRITE_TIMEOUT_SECONDS, EventStreamResponse, ServerView, StreamHub

EVENTS_PATH = "/hot-reload/events"
STATUS_PATH = "/hot-reload/status"
APPLY_NOW_PATH = "/hot-reload/apply-now"
RELOAD_UI_PATH = "/hot-reload/reload-ui"
RECENT_EVENTS = 50

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


# -- status -----------------------------------------------------------------------------------
def owner_file(owner: str, folder: Path | None) -> str:
    """A replacement's owner as the page shows it: the live file relative to the folder."""
    if folder is not None:
        try:
            return Path(owner).relative_to(folder).as_posix()
        except ValueError:
            pass
    return owner


def greeting(feed: Feed) -> dict[str, Any]:
    """The live folder, the watch mode and why, and what keeps hot reload from running: what a
    page is told when it connects. O(1): every connection asks, on the server's event loop."""
    reloader = feed.reloader()
    problem = feed.problem()
    if reloader is None:
        return {"folder": None, "mode": "off", "mode_reason": problem or "hot reload is off", "problem": problem}
    mode, reason = reloader.mode, reloader.mode_reason
    return {"folder": str(reloader.folder), "mode": mode, "mode_reason": reason,
            "problem": problem or (reason if mode == "inactive" else "")}


def status(feed: Feed, recent: int = RECENT_EVENTS) -> dict[str, Any]:
    """Everything the Hot Reload tab shows: O(live files + replacements), so the route computes it
    off the event loop."""
    reloader = feed.reloader()
    state = reloader.status() if reloader is not None else {
        "running": False, "files": {}, "failing": [], "pending": 0, "waiting": [], "tracked": []}
    folder = reloader.folder if reloader is not None else None
    active = [{**row, "owner_file": owner_file(row["owner"], folder)} for row in feed.registry.active()]
    return {
        **state,
        **greeting(feed),
        "active": active,
        "last_seq": feed.events.last_seq,
        "newest": feed.events.newest_of_files(),
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


async def _refusal(request: Request, *, changes_state: bool = False) -> JSONResponse | None:
    """None when the request may proceed, else the 403 (another site's page) or 401 response."""
    why = cross_site(request.headers, changes_state=changes_state)
    if why:
        return JSONResponse({"detail": refusal_message(why)}, status_code=403)
    app = request.app
    if not login_required(app) or await logged_in(app, request):
        return None
    return JSONResponse({"detail": "Not authenticated: log in to the webui first"}, status_code=401)


# -- the event stream -------------------------------------------------------------------------
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


# -- the routes -------------------------------------------------------------------------------
def has_routes(app: Any) -> bool:
    return any(getattr(route, "path", None) == EVENTS_PATH for route in getattr(app, "routes", []))


async def _reloader_to_ask(request: Request, feed: Feed) -> Reloader | JSONResponse:
    """The reloader a POST route asks, or the answer that refuses: the request's (see _refusal),
    or the 404 that says there is none (hot reload is off)."""
    refused = await _refusal(request, changes_state=True)
    if refused is not None:
        return refused
    reloader = feed.reloader()
    if reloader is None or not reloader.running:
        return JSONResponse({"detail": "Hot reload is off: there is nothing to apply"}, status_code=404)
    return reloader


def add_routes(app: Any, feed: Feed, *, server: ServerView | None = None, add_route: AddRoute | None = None,
               heartbeat: float = HEARTBEAT_SECONDS, write_timeout: float = WRITE_TIMEOUT_SECONDS) -> bool:
    """Add the routes to `app` unless it has them; True when they were added.

    `add_route(path, endpoint, methods=[...])` registers a route (default: `app.add_api_route`;
    SD.Next's API registrar adds its subpath copy and auth). `server` is the server that serves
    `app` (stream.GradioServer for the webui's): through it, open streams end when it shuts down and
    a client that does not read is cut off.
    """
    if has_routes(app):
        return False
    register = add_route or app.add_api_route
    view = server or ServerView()
    hub = StreamHub(feed.events, view, heartbeat=heartbeat, write_timeout=write_timeout)
    # Names this app in every hello: a page that asked for Reload UI reloads itself once it is
    # greeted by the next app (each Reload UI makes one).
    app_id = secrets.token_hex(8)

    async def hot_reload_events(request: Request) -> Any:
        refused = await _refusal(request)
        if refused is not None:
            return refused
        start = resume_point(request.headers.get("last-event-id"), request.query_params.get("since"),
                             feed.events.last_seq)
        return EventStreamResponse(hub, start, {**greeting(feed), "app": app_id, "ui": view.page_version()})

    async def hot_reload_status(request: Request) -> Any:
        refused = await _refusal(request)
        if refused is not None:
            return refused
        return await run_in_threadpool(lambda: JSONResponse(status(feed)))

    async def hot_reload_apply_now(request: Request) -> Any:
        reloader = await _reloader_to_ask(request, feed)
        if isinstance(reloader, JSONResponse):
            return reloader
        reloader.apply_now()
        return JSONResponse({"asked": True})

    async def hot_reload_apply(request: Request) -> Any:
        reloader = await _reloader_to_ask(request, feed)
        if isinstance(reloader, JSONResponse):
            return reloader
        try:
            ask = parse_ask(request.query_params)
        except ValueError as error:
            return JSONResponse({"detail": str(error)}, status_code=400)
        status_code, body = await answer_off_the_loop(reloader, ask, request.receive, view.closing)
        return JSONResponse(body, status_code=status_code)

    async def hot_reload_reload_ui(request: Request) -> Any:
        reloader = await _reloader_to_ask(request, feed)
        if isinstance(reloader, JSONResponse):
            return reloader
        reloader.reload_ui()
        # Whether it waits: the page says so on the button. The host's busy() reads the webui's
        # state, which is cheap, but it is the host's code: off the event loop.
        return JSONResponse({"asked": True, "waiting": await run_in_threadpool(reloader.gate.reason)})

    register(EVENTS_PATH, hot_reload_events, methods=["GET"], include_in_schema=False)
    register(STATUS_PATH, hot_reload_status, methods=["GET"], include_in_schema=False)
    register(APPLY_NOW_PATH, hot_reload_apply_now, methods=["POST"], include_in_schema=False)
    register(RELOAD_UI_PATH, hot_reload_reload_ui, methods=["POST"], include_in_schema=False)
    register(APPLY_PATH, hot_reload_apply, methods=["POST"], include_in_schema=False)
    return True
