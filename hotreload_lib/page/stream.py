"""The event stream's transport: Server-Sent Events to every open page, written on the server's
event loop, where no page may hold up the webui or its shutdown.

Why not starlette's StreamingResponse: it writes each chunk with `await send()`, and uvicorn's send
waits (FlowControl.drain) for as long as the client does not read. A paused tab, or a client that
keeps its socket open and never reads, held the stream there forever, short of its shutdown check;
and gradio's close() ("Reload UI", Ctrl+C) waited with it, since uvicorn's shutdown waits for every
connection. Ending the response would not help: uvicorn then closes the transport, and asyncio's
close() waits for the unsent bytes to go out too. ASGI has no word for "drop this connection", so
the stream asks the server for its transport and aborts it (ServerView).

So here:
- a stream hands the server at most CHUNK_BYTES per send and nothing more until that send returns:
  whatever else is due waits in the shared event log, not in a buffer of the stream;
- a hub per app looks at its streams WATCH_SECONDS apart: a send that has not returned after
  `write_timeout` (any send at all, once the server shuts down) is a client that does not keep up,
  and its connection is dropped; the page reconnects with Last-Event-ID and resumes;
- one listener on the event log and one wake-up per burst of events serve every stream, they read
  one copy of the history (the log's lock taken once per burst), and each event's JSON is made
  once, when it is published: a stream costs O(1) on the loop;
- a range of events a stream cannot deliver (gone from the history while the page was away or
  behind) is announced by a `gap` message naming it, never skipped silently.
"""
from __future__ import annotations

import asyncio
import json
import signal
import threading
import weakref
from typing import Any

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..events import EventLog, ReloadEvent
from .pagesplice import PAGE_VERSION_KEY

HEARTBEAT_SECONDS = 15.0
# A send still waiting after this long means a client that does not read (a paused tab, a dead
# peer, a hostile client): its connection is dropped and it resumes on reconnecting.
WRITE_TIMEOUT_SECONDS = 3.0
# How often the hub looks for stuck sends, due heartbeats and the server's shutdown: the most a
# shutdown waits for the streams, besides one send's worth of a client that does read.
WATCH_SECONDS = 0.25
# In a storm of saves the streams are woken in rounds, each stream sending what piled up in one go
# instead of once per event (each send is a system call on the loop, and one that waits for the GIL
# while the reloader's thread runs Python). Rounds come at least FLUSH_SECONDS apart, and after a
# round that took d seconds, the next waits d * (1 / STREAM_SHARE - 1): however many pages are
# open, the streams take at most about STREAM_SHARE of the loop's time from the webui's other
# requests. A lone event goes out at once.
FLUSH_SECONDS = 0.05
STREAM_SHARE = 0.2
# Streams woken per turn of the loop: other requests get their turns in between.
WAKE_SLICE = 5
CHUNK_BYTES = 65_536  # at most this much in one send: uvicorn buffers what the socket does not take
CHUNK_EVENTS = 256
RECONNECT_MS = 2000
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies would otherwise buffer the stream.
    "X-Accel-Buffering": "no",
    # The webui adds GZipMiddleware, which buffers a streamed body inside the compressor until it
    # ends (Starlette before 0.41); a response that already names its encoding is passed through.
    "Content-Encoding": "identity",
}
KEEP_ALIVE = b": keep-alive\n\n"


def sse_message(data: dict[str, Any], *, event: str, id: int | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {id}\n" if id is not None else "")
    # json.dumps never emits a raw newline, so the data is always one line.
    return (head + "data: " + json.dumps(data, ensure_ascii=False) + "\n\n").encode("utf-8", "backslashreplace")


def reload_message(event: ReloadEvent) -> bytes:
    return b"event: reload\nid: %d\ndata: %b\n\n" % (event.seq, event.json_bytes)


def gap_message(first: int, last: int) -> bytes:
    """Events `first`..`last` cannot be sent: they left the history (HISTORY_SIZE) before this page
    got them. Its id is the last of them, so a reconnecting page does not hear of them twice."""
    return sse_message({"from": first, "to": last}, event="gap", id=last)


# -- the server --------------------------------------------------------------------------------
class ServerView:
    """What the streams need of the server they run on. This one knows of no server: it never
    shuts down and cannot drop a connection, so a client that stops reading keeps its (one
    chunk's) stream until it goes away."""

    def closing(self) -> bool:
        return False

    def abort(self, scope: Scope) -> None:
        """Drop the connection of the request `scope` at once, unsent bytes and all (this one cannot)."""

    def holds_unsent(self, scope: Scope) -> bool:
        """Whether the connection of `scope` still holds bytes its client has not taken (closing it
        would wait for them)."""
        return False

    def page_version(self) -> int:
        """Which build of the page the server gives a page load now (0: the one it started with)."""
        return 0


class UvicornServer(ServerView):
    """A uvicorn server, as `_server()` finds it now. A request's connection is found in uvicorn's
    own table, `server_state.connections`: the protocol whose `cycle.scope` is the request's scope
    (the very dict Starlette's middleware and routing pass on), or, should a middleware have copied
    the scope, whose client address is the request's. Its `transport` is asyncio's."""

    def _server(self) -> Any:
        return None

    def closing(self) -> bool:
        return bool(getattr(self._server(), "should_exit", False))

    def _transport(self, scope: Scope) -> Any:
        connections = list(getattr(getattr(self._server(), "server_state", None), "connections", ()))
        client = tuple(scope.get("client") or ())
        found = next((c for c in connections if getattr(getattr(c, "cycle", None), "scope", None) is scope), None)
        if found is None and client:
            found = next((c for c in connections if tuple(getattr(c, "client", None) or ()) == client), None)
        return getattr(found, "transport", None)

    def abort(self, scope: Scope) -> None:
        transport = self._transport(scope)
        if transport is not None:
            transport.abort()

    def holds_unsent(self, scope: Scope) -> bool:
        transport = self._transport(scope)
        return transport is not None and transport.get_write_buffer_size() > 0


class GradioServer(UvicornServer):
    """The uvicorn server of a gradio demo (3.x and 4.x: `demo.server`), without keeping the demo
    alive: the webui makes a new one on each "Reload UI"."""

    def __init__(self, demo: Any) -> None:
        self._demo = weakref.ref(demo)

    def _server(self) -> Any:
        return getattr(self._demo(), "server", None)

    def closing(self) -> bool:
        return self._demo() is None or super().closing()

    def page_version(self) -> int:
        config = getattr(self._demo(), "config", None)
        version = config.get(PAGE_VERSION_KEY, 0) if isinstance(config, dict) else 0
        return version if isinstance(version, int) else 0


class MainThreadServer(UvicornServer):
    """The server `uvicorn.run()` serves from the main thread, with no gradio demo (A1111's --nowebui
    API): found through the SIGINT handler uvicorn installs, its own bound `handle_exit` (uvicorn
    0.29 and later). Ctrl+C then ends the streams, which uvicorn's shutdown otherwise waits for
    without end: heartbeats keep them going. Before uvicorn runs, or with another handler: none."""

    def _server(self) -> Any:
        server = getattr(signal.getsignal(signal.SIGINT), "__self__", None)
        return server if hasattr(server, "should_exit") and hasattr(server, "server_state") else None


# -- the streams of one app --------------------------------------------------------------------
class Stream:
    """One page's connection: where it is in the log, and whether a send of it is under way."""

    def __init__(self, hub: StreamHub, scope: Scope, start: int) -> None:
        self.hub = hub
        self.scope = scope
        self.seq = start  # the last event handed to the server for this page
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.sending_since: float | None = None
        self.last_sent = self.loop.time()
        self.heartbeat_due = False
        self.ended = False  # the client went away, or was cut off

    def cut_off(self) -> None:
        self.ended = True
        self.hub.server.abort(self.scope)
        self.wake.set()

    async def listen(self, receive: Receive) -> None:
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        finally:
            self.ended = True
            self.wake.set()

    async def run(self, send: Send, headers: list[tuple[bytes, bytes]], greeting: dict[str, Any]) -> None:
        await self._send(send, {"type": "http.response.start", "status": 200, "headers": headers})
        history = self.hub.history()
        oldest = history[0].seq if history else self.seq + 1
        hello = {**greeting, "start": self.seq, "last_seq": history[-1].seq if history else self.seq,
                 "dropped": oldest > self.seq + 1}
        await self._body(send, f"retry: {RECONNECT_MS}\n".encode() + sse_message(hello, event="hello", id=self.seq))
        while not self.ended:
            if self.hub.closing:
                await self._finish(send)
                return
            chunk = self._next_chunk()
            if chunk:
                await self._body(send, chunk)
                continue
            # Nothing runs on the loop between the look above and this clear: no wake-up is lost.
            self.wake.clear()
            await self.wake.wait()

    def _next_chunk(self) -> bytes:
        history = self.hub.history()
        skip = max(0, self.seq + 1 - history[0].seq) if history else 0
        events = history[skip:skip + CHUNK_EVENTS]
        if not events:
            if self.heartbeat_due:
                self.heartbeat_due = False
                return KEEP_ALIVE
            return b""
        parts = [gap_message(self.seq + 1, events[0].seq - 1)] if events[0].seq > self.seq + 1 else []
        size = 0
        for event in events:
            message = reload_message(event)
            if size and size + len(message) > CHUNK_BYTES:
                break
            parts.append(message)
            size += len(message)
            self.seq = event.seq
        return b"".join(parts)

    async def _send(self, send: Send, message: Message) -> None:
        self.sending_since = self.loop.time()
        try:
            await send(message)
        finally:
            self.sending_since = None
            self.last_sent = self.loop.time()

    async def _body(self, send: Send, data: bytes) -> None:
        await self._send(send, {"type": "http.response.body", "body": data, "more_body": True})

    async def _finish(self, send: Send) -> None:
        """End the response for the server's shutdown. The end goes out like any send (the hub cuts
        it if the client does not take it); a connection still holding unsent bytes then is dropped,
        as closing it would wait for a client that does not read."""
        await self._send(send, {"type": "http.response.body", "body": b"", "more_body": False})
        if not self.ended and self.hub.server.holds_unsent(self.scope):
            self.hub.server.abort(self.scope)


class StreamHub:
    """The open streams of one app, on its server's event loop (taken when the first page of a
    server connects: the app is served by one server at a time)."""

    def __init__(self, events: EventLog, server: ServerView, *, heartbeat: float, write_timeout: float) -> None:
        self.events = events
        self.server = server
        self.heartbeat = heartbeat
        self.write_timeout = write_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self.streams: set[Stream] = set()
        self.closing = False
        self._wake_lock = threading.Lock()
        self._wake_scheduled = False
        self._last_wake = self._round_end = self._round_took = 0.0
        self._unsubscribe: Any = None
        self._watcher: asyncio.Task[None] | None = None
        self._history: list[ReloadEvent] = []
        self._history_published = -1

    def history(self) -> list[ReloadEvent]:
        """The log's history, one copy shared by every stream until the next event: the log's lock
        is taken once per burst, not once per stream (each time it may wait for the publishing
        thread, and then for the GIL)."""
        if self._history_published != self.events.published:
            self._history_published = self.events.published
            self._history = self.events.since(0)
        return self._history

    def open(self, scope: Scope, start: int) -> Stream:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # the app is served anew: what was open on the last server is over
            self.loop, self.closing, self._watcher = loop, False, None
            self.streams.clear()
            with self._wake_lock:
                self._wake_scheduled = False
        stream = Stream(self, scope, start)
        self.streams.add(stream)
        if self._unsubscribe is None:
            self._unsubscribe = self.events.subscribe(self._on_publish)
        if self._watcher is None:
            self._watcher = loop.create_task(self._watch())
        return stream

    def close(self, stream: Stream) -> None:
        self.streams.discard(stream)
        if not self.streams and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_publish(self, _event: ReloadEvent) -> None:
        """On the publishing thread: one wake-up of the loop for a burst of events, however many
        streams and events there are."""
        with self._wake_lock:
            if self._wake_scheduled or self.loop is None:
                return
            self._wake_scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._wake_soon)
        except RuntimeError:  # the server's loop is closed: these streams are over anyway
            pass

    def _wake_soon(self) -> None:
        loop = asyncio.get_running_loop()
        earliest = max(self._last_wake + FLUSH_SECONDS, self._round_end + self._round_took * (1 / STREAM_SHARE - 1))
        if earliest > loop.time():
            loop.call_at(earliest, self._wake_all)
        else:
            self._wake_all()

    def _wake_all(self) -> None:
        with self._wake_lock:
            self._wake_scheduled = False
        self._last_wake = asyncio.get_running_loop().time()
        self._wake_slice(list(self.streams), 0, self._last_wake)

    def _wake_slice(self, streams: list[Stream], first: int, started: float) -> None:
        loop = asyncio.get_running_loop()
        for stream in streams[first:first + WAKE_SLICE]:
            stream.wake.set()
        if first + WAKE_SLICE < len(streams):
            loop.call_soon(self._wake_slice, streams, first + WAKE_SLICE, started)
        else:  # runs right after the streams just woken have sent
            loop.call_soon(self._round_done, started)

    def _round_done(self, started: float) -> None:
        self._round_end = asyncio.get_running_loop().time()
        self._round_took = self._round_end - started

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.streams:
                await asyncio.sleep(min(WATCH_SECONDS, self.heartbeat))
                self.closing = self.closing or self.server.closing()
                now = loop.time()
                for stream in list(self.streams):
                    self._look(stream, now)
        finally:
            if self._watcher is asyncio.current_task():
                self._watcher = None

    def _look(self, stream: Stream, now: float) -> None:
        if stream.ended:
            return
        if stream.sending_since is not None:
            if self.closing or now - stream.sending_since > self.write_timeout:
                stream.cut_off()
        elif self.closing:
            stream.wake.set()
        elif now - stream.last_sent >= self.heartbeat:
            stream.heartbeat_due = True
            stream.wake.set()


class EventStreamResponse(Response):
    """The stream of one page, as a response FastAPI passes on unchanged (a starlette Response)."""

    media_type = "text/event-stream"

    def __init__(self, hub: StreamHub, start: int, greeting: dict[str, Any]) -> None:
        self.hub = hub
        self.start = start
        self.greeting = greeting
        self.status_code = 200
        self.background = None
        self.init_headers(STREAM_HEADERS)  # no body: no Content-Length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream = self.hub.open(scope, self.start)
        listener = asyncio.ensure_future(stream.listen(receive))
        try:
            await stream.run(send, self.raw_headers, self.greeting)
        finally:
            listener.cancel()
            self.hub.close(stream)
        if self.background is not None:
            await self.background()
