"""The event stream and status routes, over real HTTP: the demo page's gradio 3.41 server (built
like the webui's, GZip middleware included) on 127.0.0.1, read with httpx, and by clients on raw
sockets where a hostile or slow one is wanted."""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hotreload_lib.demo import REPO_ROOT, DemoPage, free_port
from hotreload_lib.events import EventLog
from hotreload_lib.hooks import HostHooks
from hotreload_lib.page.server import (
    APPLY_NOW_PATH,
    EVENTS_PATH,
    RELOAD_UI_PATH,
    STATUS_PATH,
    Feed,
    add_routes,
    resume_point,
)
from hotreload_lib.page.stream import GradioServer
from hotreload_lib.patch.registry import PatchRegistry
from tests.conftest import feed_of, write

ServePage = Callable[..., DemoPage]
PATCH_POSIXPATH = "import posixpath\nfrom hotreload_lib import replace\nreplace(posixpath, 'basename', lambda p: 'x')\n"


def publish(events: EventLog, count: int, message: str = "reloaded") -> None:
    for number in range(count):
        events.publish(file=f"f{number}.py", path=f"/live/f{number}.py", outcome="ok", message=message)


class Stream:
    """One open event stream, read message by message (comments too)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, **client: Any) -> None:
        self.client = httpx.Client(timeout=httpx.Timeout(30.0), **client)
        self.response = self.client.send(self.client.build_request("GET", url, headers=headers), stream=True)
        self.lines = self.response.iter_lines()

    def next(self) -> dict[str, Any]:
        message: dict[str, Any] = {}
        for line in self.lines:
            if line == "":
                if message:
                    return message
                continue
            field, _, value = line.partition(":")
            message.setdefault(field, value.strip())
            if field == "":
                return {"comment": value.strip()}
        raise AssertionError(f"the stream ended; got {message}")

    def next_event(self) -> dict[str, Any]:
        while True:
            message = self.next()
            if "comment" not in message:
                if "data" in message:
                    message["data"] = json.loads(message["data"])
                return message

    def close(self) -> None:
        self.response.close()
        self.client.close()


class RawClient:
    """An event stream client on a bare socket with a small receive buffer, for what httpx would
    not do: never read, or read in fits. It decodes the chunked body and keeps the complete
    messages; a connection the server cut off ends in the middle of one, which is dropped."""

    def __init__(self, port: int, path: str, *headers: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        request = "\r\n".join([f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *headers]) + "\r\n\r\n"
        self.sock.sendall(request.encode())
        self.address = self.sock.getsockname()
        self.messages: list[dict[str, Any]] = []
        self.closed = False  # the server closed the connection
        self._raw = b""
        self._body = b""
        self._in_body = False

    def read(self, size: int = 65536) -> None:
        data = self.sock.recv(size)
        if not data:
            self.closed = True
        self._raw += data
        if not self._in_body and b"\r\n\r\n" in self._raw:
            head, self._raw = self._raw.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower(), head
            self._in_body = True
        while self._in_body and b"\r\n" in self._raw:
            size_line, rest = self._raw.split(b"\r\n", 1)
            chunk = int(size_line, 16)
            if len(rest) < chunk + 2:
                break
            self._body += rest[:chunk]
            self._raw = rest[chunk + 2:]
        *blocks, self._body = self._body.split(b"\n\n")
        for block in blocks:
            fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
            if "data" in fields:
                fields["data"] = json.loads(fields["data"])
            self.messages.append(fields)

    def read_until_closed(self) -> None:
        while not self.closed:
            self.read()

    def close(self) -> None:
        self.sock.close()


def server_connection(page: DemoPage, client: RawClient) -> Any:
    """uvicorn's connection of `client` on the page's server, or None once the server dropped it."""
    connections = page.demo.server.server_state.connections
    # uvicorn sets `client` to None on a connection that is being torn down.
    return next((c for c in list(connections) if c.client is not None and tuple(c.client) == client.address), None)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def fill_until_stuck(page: DemoPage, events: EventLog, client: RawClient) -> None:
    """Publish 4 KB events until the server's sends to `client` wait for it to read: its socket
    and uvicorn's buffer are full (a few MB)."""
    wait_for(lambda: len(events._listeners) > 0, "the stream opened")
    for _ in range(1000):
        connection = server_connection(page, client)
        if connection is not None and connection.flow.write_paused:
            return
        publish(events, 50, "m" * 4000)
        time.sleep(0.01)
    raise AssertionError("the server never waited for the client: was every byte taken?")


def trickle_until_cut_off(page: DemoPage, client: RawClient) -> None:
    """Read 512 bytes at a time, ~25 KB/s, until the server drops the connection."""
    wait_for(lambda: server_connection(page, client), "the connection")

    def cut_off() -> bool:
        client.read(512)
        return server_connection(page, client) is None

    wait_for(cut_off, "the slow reader cut off")


def add_call_next_middleware(app: Any) -> None:
    """What A1111's --api adds (modules/api/api.py: @app.middleware("http") log_and_time): a
    BaseHTTPMiddleware, which copies every response through a stream of its own."""

    async def log_and_time(request: Any, call_next: Any) -> Any:
        return await call_next(request)

    app.middleware("http")(log_and_time)
    app.middleware_stack = None
    app.build_middleware_stack()


@pytest.fixture
def events() -> EventLog:
    return EventLog()


@pytest.fixture
def page(serve_page: ServePage, events: EventLog) -> DemoPage:
    return serve_page(Feed(events, PatchRegistry(), lambda: None))


@pytest.fixture
def open_stream() -> Iterator[Callable[..., Stream]]:
    streams: list[Stream] = []

    def open_(url: str, **options: Any) -> Stream:
        streams.append(Stream(url, **options))
        return streams[-1]

    yield open_
    for stream in streams:
        stream.close()


def test_a_fresh_connection_gets_a_hello_and_then_only_new_events(
        page: DemoPage, events: EventLog, open_stream: Callable[..., Stream]) -> None:
    publish(events, 3)
    stream = open_stream(page.url + "hot-reload/events")
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    hello = stream.next_event()
    assert hello["event"] == "hello" and hello["id"] == "3"
    assert hello["data"]["start"] == 3 and hello["data"]["mode"] == "off"
    publish(events, 1)
    message = stream.next_event()
    assert (message["event"], message["id"], message["data"]["seq"]) == ("reload", "4", 4)


def test_the_stream_is_not_held_back_by_the_webuis_gzip_middleware(
        page: DemoPage, events: EventLog, open_stream: Callable[..., Stream]) -> None:
    stream = open_stream(page.url + "hot-reload/events", headers={"Accept-Encoding": "gzip"})
    stream.next_event()
    publish(events, 1)
    assert stream.next_event()["data"]["seq"] == 1
    assert stream.response.headers.get("content-encoding") != "gzip"


@pytest.mark.parametrize("how", ["Last-Event-ID", "since"])
def test_a_reconnecting_page_gets_exactly_what_it_missed(
        page: DemoPage, events: EventLog, open_stream: Callable[..., Stream], how: str) -> None:
    publish(events, 5)
    if how == "Last-Event-ID":
        stream = open_stream(page.url + "hot-reload/events", headers={"Last-Event-ID": "2"})
    else:
        stream = open_stream(page.url + "hot-reload/events?since=2")
    assert stream.next_event()["data"]["start"] == 2
    assert [stream.next_event()["data"]["seq"] for _ in range(3)] == [3, 4, 5]
    publish(events, 1)
    assert stream.next_event()["data"]["seq"] == 6


def test_an_id_beyond_the_newest_means_a_restarted_webui_and_replays_this_process(
        page: DemoPage, events: EventLog, open_stream: Callable[..., Stream]) -> None:
    publish(events, 2)
    stream = open_stream(page.url + "hot-reload/events", headers={"Last-Event-ID": "40"})
    assert stream.next_event()["data"]["start"] == 0
    assert [stream.next_event()["data"]["seq"] for _ in range(2)] == [1, 2]


def test_events_dropped_from_the_history_are_announced(open_stream: Callable[..., Stream],
                                                       serve_page: ServePage) -> None:
    events = EventLog(size=3)
    page = serve_page(Feed(events, PatchRegistry(), lambda: None))
    publish(events, 6)
    stream = open_stream(page.url + "hot-reload/events?since=1")
    hello = stream.next_event()["data"]
    assert hello["dropped"] is True
    gap = stream.next_event()
    assert (gap["event"], gap["id"], gap["data"]) == ("gap", "3", {"from": 2, "to": 3})
    assert [stream.next_event()["data"]["seq"] for _ in range(3)] == [4, 5, 6]


@pytest.mark.parametrize("last_event_id, since, newest, expected", [
    (None, None, 7, 7), ("3", None, 7, 3), (None, "5", 7, 5), ("4", "1", 7, 4),
    ("junk", "2", 7, 2), ("", None, 7, 7), ("9", None, 7, 0), ("-1", None, 7, 0),
])
def test_resume_point(last_event_id: str | None, since: str | None, newest: int, expected: int) -> None:
    assert resume_point(last_event_id, since, newest) == expected


def test_idle_streams_send_heartbeats(serve_page: ServePage, events: EventLog,
                                      open_stream: Callable[..., Stream]) -> None:
    page = serve_page(Feed(events, PatchRegistry(), lambda: None))
    app = FastAPI()
    # The page's own app has the default heartbeat; this one is served beside it for the test, and
    # watches the page's server as the page's own does, so that the page's close() never waits on it.
    add_routes(app, page.feed, server=GradioServer(page.demo), heartbeat=0.2)
    page.app.mount("/fast", app)
    stream = open_stream(page.url + "fast/hot-reload/events")
    stream.next_event()
    assert stream.next() == {"comment": "keep-alive"}


def test_a_client_that_goes_away_ends_its_stream(page: DemoPage, events: EventLog,
                                                 open_stream: Callable[..., Stream]) -> None:
    stream = open_stream(page.url + "hot-reload/events")
    stream.next_event()
    assert len(events._listeners) == 1
    stream.close()
    deadline = time.monotonic() + 20
    while events._listeners and time.monotonic() < deadline:
        publish(events, 1)  # the server notices a closed socket when it writes to it
        time.sleep(0.1)
    assert events._listeners == []


def test_closing_the_server_ends_open_streams_so_reload_ui_does_not_hang(
        page: DemoPage, open_stream: Callable[..., Stream]) -> None:
    stream = open_stream(page.url + "hot-reload/events")
    stream.next_event()
    closer = threading.Thread(target=page.close, daemon=True)
    closer.start()
    closer.join(60)
    assert not closer.is_alive(), "gradio's close() waited for the event stream forever"


@pytest.mark.parametrize("shutdown, api_middleware", [("close", False), ("close", True), ("reload_ui", True)])
def test_a_client_that_never_reads_does_not_hold_up_shutdown_or_reload_ui(
        page: DemoPage, events: EventLog, shutdown: str, api_middleware: bool) -> None:
    """Megabytes wait for a client that keeps its socket open and never reads. gradio's close()
    (Reload UI, Ctrl+C) waited for it forever; now a second or so. The bound below is a hang
    check, generous against a loaded machine, not a measurement."""
    if api_middleware:
        add_call_next_middleware(page.app)
    client = RawClient(page.port, EVENTS_PATH)
    try:
        fill_until_stuck(page, events, client)
        closer = threading.Thread(target=getattr(page, shutdown), daemon=True)
        started = time.monotonic()
        closer.start()
        closer.join(5 if shutdown == "close" else 30)
        assert not closer.is_alive(), f"{shutdown}() still waits for the client that never reads"
        assert shutdown == "reload_ui" or time.monotonic() - started < 5
    finally:
        client.close()


def test_a_client_that_stops_reading_is_cut_off_and_the_others_get_every_event(
        serve_page: ServePage, open_stream: Callable[..., Stream]) -> None:
    # A history longer than the flood: the reader that keeps up must get every event, however far
    # behind the shared machine lets it fall while the stuck client's buffers fill.
    events = EventLog(size=100_000)
    page = serve_page(Feed(events, PatchRegistry(), lambda: None))
    reader = open_stream(page.url + "hot-reload/events")
    reader.next_event()
    client = RawClient(page.port, EVENTS_PATH)
    try:
        fill_until_stuck(page, events, client)
        wait_for(lambda: server_connection(page, client) is None, "the stuck client cut off")
        client.read_until_closed()  # what its socket still held, then the end
        assert client.messages[0]["event"] == "hello"
        newest = events.last_seq
        seqs: list[int] = []
        while not seqs or seqs[-1] < newest:
            try:
                message = reader.next_event()
            except httpx.RemoteProtocolError:
                # This reader shares the test's process, and so the GIL, with the flood: it may fall
                # behind enough to be cut off too. Then it resumes, as a page does.
                resume_at = str(seqs[-1] if seqs else 0)
                reader = open_stream(page.url + "hot-reload/events", headers={"Last-Event-ID": resume_at})
                continue
            if message["event"] == "reload":
                seqs.append(message["data"]["seq"])
        assert seqs == list(range(1, newest + 1))
    finally:
        client.close()


@pytest.mark.parametrize("history", [100_000, 300])
def test_a_slow_reader_is_cut_off_and_resumes_without_a_silent_gap(
        serve_page: ServePage, history: int) -> None:
    """A reader that takes a trickle, again and again, while events keep coming: each time it is
    cut off, it reconnects with Last-Event-ID and resumes. Every event reaches it, or (when the
    history of `history` events moved on meanwhile) a gap message names what it missed."""
    events = EventLog(size=history)
    page = serve_page(Feed(events, PatchRegistry(), lambda: None))
    quick = FastAPI()
    add_routes(quick, page.feed, server=GradioServer(page.demo), write_timeout=0.3)
    page.app.mount("/quick", quick)
    stop = threading.Event()

    def publisher() -> None:
        while not stop.is_set():
            publish(events, 20, "m" * 4000)
            time.sleep(0.005)

    threading.Thread(target=publisher, daemon=True).start()
    received: list[int] = []
    gaps: list[tuple[int, int]] = []
    cuts = 0
    last_id = "0"
    try:
        for _ in range(20):
            client = RawClient(page.port, "/quick" + EVENTS_PATH, f"Last-Event-ID: {last_id}")
            try:
                if cuts < 3:
                    trickle_until_cut_off(page, client)
                    cuts += 1
                else:
                    stop.set()
                    time.sleep(0.05)
                final = events.last_seq
                while not client.closed and not (received and received[-1] == final and cuts >= 3):
                    client.read()
                    for message in client.messages:
                        if message["event"] == "reload":
                            received.append(message["data"]["seq"])
                        elif message["event"] == "gap":
                            gaps.append((message["data"]["from"], message["data"]["to"]))
                        last_id = message.get("id", last_id)
                    client.messages.clear()
                if stop.is_set():
                    break
            finally:
                client.close()
    finally:
        stop.set()
    assert cuts == 3 and received and received[-1] == events.last_seq
    delivered = sorted([*received, *(seq for first, last in gaps for seq in range(first, last + 1))])
    assert delivered == list(range(1, events.last_seq + 1)), "an event was skipped silently, or sent twice"
    if history > events.last_seq:
        assert gaps == [], "nothing left the history: every event should have arrived"


def test_the_routes_are_added_once_per_app(page: DemoPage) -> None:
    assert add_routes(page.app, page.feed) is False
    paths = [getattr(route, "path", None) for route in page.app.routes]
    assert [paths.count(path) for path in (EVENTS_PATH, STATUS_PATH, APPLY_NOW_PATH, RELOAD_UI_PATH)] == [1] * 4


def test_each_app_names_itself_in_the_hello(page: DemoPage, open_stream: Callable[..., Stream]) -> None:
    """A page that asked for Reload UI knows the new app by it."""
    first = open_stream(page.url + "hot-reload/events").next_event()["data"]["app"]
    assert open_stream(page.url + "hot-reload/events").next_event()["data"]["app"] == first
    page.reload_ui()
    assert open_stream(page.url + "hot-reload/events").next_event()["data"]["app"] not in ("", first)


def test_reload_ui_serves_again_after_an_asyncio_run_in_the_launching_thread(
        serve_page: ServePage, events: EventLog, open_stream: Callable[..., Stream]) -> None:
    """gradio 4 left its server running on close() when the launching thread had run asyncio.run()
    before (its app's stop event is then None): the next launch found the port taken."""
    asyncio.run(asyncio.sleep(0))
    page = serve_page(Feed(events, PatchRegistry(), lambda: None))
    first = open_stream(page.url + "hot-reload/events").next_event()["data"]["app"]
    page.reload_ui()
    assert open_stream(page.url + "hot-reload/events").next_event()["data"]["app"] not in ("", first)


def test_status_lists_folder_mode_replacements_and_recent_events(
        make_reloader: Callable[..., Any], serve_page: ServePage, live_dir: Path) -> None:
    reloader, watcher = make_reloader()
    write(live_dir / "sub" / "patch.py", PATCH_POSIXPATH)
    watcher.file("sub/patch.py", "ok")
    page = serve_page(feed_of(reloader))
    state = httpx.get(page.url + "hot-reload/status").json()
    assert state["folder"] == str(live_dir)
    assert state["mode"] in ("native", "polling") and state["mode_reason"]
    assert state["problem"] == ""
    [active] = state["active"]
    assert active["target"] == "posixpath.basename" and active["owner_file"] == "sub/patch.py"
    assert active["mode"] == "in-place" and active["since"] <= time.time()
    assert state["recent"][-1]["file"] == "sub/patch.py" and state["recent"][-1]["outcome"] == "ok"
    assert state["last_seq"] == state["recent"][-1]["seq"]


def test_status_and_the_tab_name_the_files_failing_now(make_reloader: Callable[..., Any], serve_page: ServePage,
                                                       live_dir: Path) -> None:
    from hotreload_lib.page.ui import summary_html

    reloader, watcher = make_reloader()
    write(live_dir / "broken.py", "x = 1\n\n1 / 0\n")
    watcher.file("broken.py", "error")
    write(live_dir / "fine.py", "x = 1\n")
    watcher.file("fine.py", "ok")
    page = serve_page(feed_of(reloader))
    state = httpx.get(page.url + "hot-reload/status").json()
    [failing] = state["failing"]
    assert failing["file"] == "broken.py" and failing["error"]["type"] == "ZeroDivisionError"
    assert failing["error"]["line"] == 3
    assert "<code>broken.py:3</code> ZeroDivisionError: division by zero" in summary_html(state)
    write(live_dir / "broken.py", "x = 2\n")
    watcher.file("broken.py", "ok")
    assert httpx.get(page.url + "hot-reload/status").json()["failing"] == []


def test_status_says_off_and_why_without_a_reloader(serve_page: ServePage, events: EventLog) -> None:
    page = serve_page(Feed(events, PatchRegistry(), lambda: None, lambda: "--hot-reload-dir x: no such folder"))
    state = httpx.get(page.url + "hot-reload/status").json()
    assert (state["mode"], state["running"], state["problem"]) == ("off", False, "--hot-reload-dir x: no such folder")


def test_a_huge_error_message_is_capped_in_the_stream_and_in_status(
        make_reloader: Callable[..., Any], serve_page: ServePage, live_dir: Path,
        open_stream: Callable[..., Stream]) -> None:
    """Uncapped, one ValueError('x' * 20_000_000) made a 60 MB message to every page and a 240 MB
    status after four saves."""
    reloader, watcher = make_reloader()
    page = serve_page(feed_of(reloader))
    stream = open_stream(page.url + "hot-reload/events")
    stream.next_event()
    for number in range(4):
        write(live_dir / "huge.py", f"raise ValueError('x' * 20_000_000)  # {number}\n")
        watcher.file("huge.py", "error", timeout=30)
        message = stream.next_event()
        assert message["event"] == "reload" and len(json.dumps(message["data"])) < 64_000
        assert "(truncated, 20,000,000 bytes)" in message["data"]["error"]["message"]
    state = httpx.get(page.url + "hot-reload/status", timeout=30)
    assert len(state.content) < 4 * 64_000
    assert [event["outcome"] for event in state.json()["recent"]][-4:] == ["error"] * 4


# -- cross-site requests ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["hot-reload/status", "hot-reload/events"])
@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://localhost:{port}"},  # another origin, though the same machine
    {"Origin": "http://127.0.0.1:{other_port}"},  # another local server's page
    {"Origin": "null"},  # a sandboxed frame, a file:// page
    {"Sec-Fetch-Site": "cross-site"},  # e.g. <img src> or <script src> on another site: no Origin
], ids=["other-site", "localhost-name", "other-port", "null", "sec-fetch-site"])
def test_another_sites_page_is_refused(page: DemoPage, path: str, headers: dict[str, str]) -> None:
    sent = {name: value.format(port=page.port, other_port=page.port + 1) for name, value in headers.items()}
    response = httpx.get(page.url + path, headers=sent, timeout=30)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Cross-site request refused: ")


@pytest.mark.parametrize("headers", [
    {},  # curl, a script, a typed address
    {"Origin": "http://127.0.0.1:{port}"},
    {"Origin": "HTTP://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},  # the address typed into the browser
], ids=["no-origin", "same-origin", "same-origin-fetch", "typed"])
def test_the_webuis_own_page_and_other_clients_are_served(
        page: DemoPage, events: EventLog, open_stream: Callable[..., Stream], headers: dict[str, str]) -> None:
    sent = {name: value.format(port=page.port) for name, value in headers.items()}
    assert httpx.get(page.url + "hot-reload/status", headers=sent, timeout=30).status_code == 200
    stream = open_stream(page.url + "hot-reload/events", headers=sent)
    assert stream.next_event()["event"] == "hello"


def test_a_page_behind_a_tls_proxy_is_its_own_origin(page: DemoPage) -> None:
    """The proxy passes the Host on; the page is https, the webui plain http."""
    headers = {"Host": "webui.example", "Origin": "https://webui.example"}
    assert httpx.get(page.url + "hot-reload/status", headers=headers, timeout=30).status_code == 200
    headers = {"Host": "webui.example", "Origin": "https://webui.example:8443"}
    assert httpx.get(page.url + "hot-reload/status", headers=headers, timeout=30).status_code == 403


# -- gradio auth ----------------------------------------------------------------------------------
def login(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(timeout=30)
    response = client.post(url + "login", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


def test_with_gradio_auth_the_routes_want_the_login_cookie(
        serve_page: ServePage, events: EventLog, open_stream: Callable[..., Stream]) -> None:
    page = serve_page(Feed(events, PatchRegistry(), lambda: None), auth=[("admin", "s3cret")])
    assert httpx.get(page.url + "hot-reload/status").status_code == 401
    assert httpx.get(page.url + "hot-reload/events").status_code == 401
    assert httpx.get(page.url + "hot-reload/status", cookies={"access-token": "guessed"}).status_code == 401
    with pytest.raises(AssertionError):
        login(page.url, "admin", "wrong")

    client = login(page.url, "admin", "s3cret")
    # Over plain HTTP the client keeps gradio's non-secure cookie: access-token-unsecure on gradio 3,
    # access-token-unsecure-<cookie_id> on gradio 4. The secure one (the same name without
    # "-unsecure") carries the same token and works the same.
    assert client.get(page.url + "hot-reload/status").json()["mode"] == "off"
    [(name, token)] = [(name, value) for name, value in client.cookies.items()
                       if name.startswith("access-token-unsecure")]
    secure_name = name.replace("-unsecure", "")
    assert httpx.get(page.url + "hot-reload/status", cookies={secure_name: token}).status_code == 200
    assert httpx.get(page.url + "hot-reload/status", cookies={secure_name: token + "x"}).status_code == 401
    stream = open_stream(page.url + "hot-reload/events", cookies={name: token})
    assert stream.next_event()["event"] == "hello"
    client.close()


def test_without_auth_the_routes_are_as_open_as_the_webui(page: DemoPage) -> None:
    assert httpx.get(page.url + "hot-reload/status").status_code == 200


def test_the_routes_are_read_only(page: DemoPage) -> None:
    for path in ("hot-reload/status", "hot-reload/events"):
        assert httpx.post(page.url + path).status_code == 405
    for path in ("hot-reload/apply-now", "hot-reload/reload-ui"):
        assert httpx.get(page.url + path).status_code == 405


# -- the buttons' routes: Apply now, Reload UI ----------------------------------------------------------
@pytest.fixture
def busy_host() -> tuple[list[str], list[str], HostHooks]:
    """A host whose busy() reads a flag the test sets, and whose Reload UI is counted."""
    busy = [""]
    reloads: list[str] = []

    def reload_ui() -> str:
        reloads.append("asked")
        return ""

    return busy, reloads, HostHooks(busy=lambda: busy[0], reload_ui=reload_ui)


def test_apply_now_runs_what_waits_for_the_generation(make_reloader: Callable[..., Any], serve_page: ServePage,
                                                     live_dir: Path, busy_host: Any) -> None:
    busy, _reloads, host = busy_host
    reloader, watcher = make_reloader(host=host)
    page = serve_page(feed_of(reloader))
    busy[0] = "a generation is running"
    write(live_dir / "waits.py", "x = 1\n")
    watcher.file("waits.py", "deferred")
    response = httpx.post(page.url + "hot-reload/apply-now", timeout=30)
    assert response.status_code == 200 and response.json() == {"asked": True}
    watcher.file("waits.py", "ok")  # still busy: applied because it was asked


def test_reload_ui_waits_for_the_generation_and_says_so(make_reloader: Callable[..., Any], serve_page: ServePage,
                                                        busy_host: Any) -> None:
    busy, reloads, host = busy_host
    reloader, watcher = make_reloader(host=host)
    page = serve_page(feed_of(reloader))
    busy[0] = "a generation is running"
    response = httpx.post(page.url + "hot-reload/reload-ui", timeout=30)
    assert response.json() == {"asked": True, "waiting": "a generation is running"}
    busy[0] = ""
    event = watcher.next(lambda e: e.message.startswith("Reload UI"))
    assert event.message == "Reload UI: the page is being rebuilt" and reloads == ["asked"]
    assert httpx.post(page.url + "hot-reload/reload-ui", timeout=30).json() == {"asked": True, "waiting": ""}
    watcher.next(lambda e: e.message.startswith("Reload UI"))
    assert reloads == ["asked", "asked"]


@pytest.mark.parametrize("path", ["hot-reload/apply-now", "hot-reload/reload-ui"])
def test_the_buttons_routes_say_so_when_hot_reload_is_off(page: DemoPage, path: str) -> None:
    response = httpx.post(page.url + path, timeout=30)
    assert response.status_code == 404 and response.json()["detail"].startswith("Hot reload is off")


@pytest.mark.parametrize("path", ["hot-reload/apply-now", "hot-reload/reload-ui"])
@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:{other_port}"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},  # a form another site posts, its Origin stripped by a proxy
    {"Sec-Fetch-Site": "same-site"},  # another port or subdomain of the same site
], ids=["other-site", "other-port", "null", "sec-fetch-site", "same-site"])
def test_the_buttons_routes_refuse_another_sites_page(make_reloader: Callable[..., Any], serve_page: ServePage,
                                                      busy_host: Any, path: str, headers: dict[str, str]) -> None:
    _busy, reloads, host = busy_host
    reloader, watcher = make_reloader(host=host)
    page = serve_page(feed_of(reloader))
    sent = {name: value.format(other_port=page.port + 1) for name, value in headers.items()}
    response = httpx.post(page.url + path, headers=sent, timeout=30)
    assert response.status_code == 403 and response.json()["detail"].startswith("Cross-site request refused: ")
    # Asked the same-origin way, the reloader answers: the refused request had asked for nothing.
    own = {"Origin": f"http://127.0.0.1:{page.port}", "Sec-Fetch-Site": "same-origin"}
    assert httpx.post(page.url + "hot-reload/reload-ui", headers=own, timeout=30).status_code == 200
    watcher.next(lambda e: e.message.startswith("Reload UI"))
    assert reloads == ["asked"]


def test_with_gradio_auth_the_buttons_routes_want_the_login_cookie(
        make_reloader: Callable[..., Any], serve_page: ServePage, busy_host: Any) -> None:
    _busy, reloads, host = busy_host
    reloader, watcher = make_reloader(host=host)
    page = serve_page(feed_of(reloader), auth=[("admin", "s3cret")])
    for path in ("hot-reload/apply-now", "hot-reload/reload-ui"):
        assert httpx.post(page.url + path, timeout=30).status_code == 401
    client = login(page.url, "admin", "s3cret")
    assert client.post(page.url + "hot-reload/reload-ui").status_code == 200
    assert client.post(page.url + "hot-reload/apply-now").status_code == 200
    watcher.next(lambda e: e.message.startswith("Reload UI"))
    assert reloads == ["asked"]
    client.close()


@contextmanager
def sigint_handled_in_children() -> Iterator[None]:
    """A job started in the background (`pytest &`, nohup) has SIGINT ignored, and a child inherits an
    ignored signal through exec: it would ignore Ctrl+C too. A handler is not inherited (exec resets it
    to the default), so one is set while the child starts."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(180)
def test_the_demo_command_serves_the_page_and_stops_on_ctrl_c(live_dir: Path) -> None:
    """`python -m hotreload_lib demo DIR`, the README's first command (through dev.sh)."""
    write(live_dir / "greet.py", (REPO_ROOT / "playground" / "greet.py").read_text())
    port = free_port()
    command = [sys.executable, "-m", "hotreload_lib", "demo", str(live_dir), "--port", str(port)]
    with sigint_handled_in_children():
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
    try:
        assert process.stdout is not None
        output = []
        for line in process.stdout:  # ends when the process does
            output.append(line)
            if "hot reload demo: open" in line:
                break
        assert f"open http://127.0.0.1:{port}/" in output[-1], "".join(output)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=30).text
        head, body = page.split("</head>")
        assert head.index("./hot-reload-demo/script.js?") < head.index("./hot-reload-demo/hot_reload.js?")
        assert "./hot-reload-demo/style.css?" in body.split("</body>")[0]
        state = httpx.get(f"http://127.0.0.1:{port}/hot-reload/status", timeout=30).json()
        assert state["folder"] == str(live_dir)
        assert [row["target"] for row in state["active"]] == ["hotreload_lib.demo.greet"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(60) == 0
        finally:
            if process.poll() is None:  # not left running when it ignored Ctrl+C
                process.kill()
                process.wait()


def test_the_demo_works_on_a_copy_of_the_playground(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from hotreload_lib.demo import PLAYGROUND, demo_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = demo_folder()
    assert folder.parent == tmp_path and (folder / "greet.py").read_text() == (PLAYGROUND / "greet.py").read_text()
    (folder / "greet.py").write_text("# mine\n")
    assert (demo_folder() / "greet.py").read_text() == "# mine\n"  # the user's edits stay


NOWEBUI_API = """
import sys

import uvicorn
from fastapi import FastAPI

from hotreload_lib.events import EventLog
from hotreload_lib.page.server import Feed, add_routes
from hotreload_lib.page.stream import MainThreadServer
from hotreload_lib.patch.registry import PatchRegistry

app = FastAPI()
add_routes(app, Feed(EventLog(), PatchRegistry(), lambda: None), server=MainThreadServer(), heartbeat=0.2)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""


@pytest.mark.timeout(180)
def test_ctrl_c_ends_an_open_stream_of_an_api_served_by_uvicorn_run(tmp_path: Path) -> None:
    """A1111's --nowebui: its API app is served by uvicorn.run() with no gradio demo. uvicorn's shutdown
    waits for every open connection, and heartbeats keep a stream open: the stream must see Ctrl+C."""
    port = free_port()
    with sigint_handled_in_children():
        process = subprocess.Popen([sys.executable, "-c", NOWEBUI_API, str(port)], cwd=REPO_ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line)
            if "Uvicorn running on" in line:
                break
        with httpx.stream("GET", f"http://127.0.0.1:{port}/hot-reload/events", timeout=60) as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: hello"
            process.send_signal(signal.SIGINT)
            for count, _line in enumerate(lines):  # heartbeats (0.2 s apart), until the server ends the stream
                assert count < 500, "the stream outlived Ctrl+C"
        assert process.wait(60) == 0, "".join(output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
