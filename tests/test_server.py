"""The event stream and status routes, over real HTTP: the demo page's gradio 3.41 server (built
like the webui's, GZip middleware included) on 127.0.0.1, read with httpx."""
from __future__ import annotations

import json
import signal
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
from hotreload_lib.registry import PatchRegistry
from hotreload_lib.server import EVENTS_PATH, STATUS_PATH, Feed, add_routes, resume_point
from tests.conftest import feed_of, write

ServePage = Callable[..., DemoPage]
PATCH_POSIXPATH = "import posixpath\nfrom hotreload_lib import replace\nreplace(posixpath, 'basename', lambda p: 'x')\n"


def publish(events: EventLog, count: int) -> None:
    for number in range(count):
        events.publish(file=f"f{number}.py", path=f"/live/f{number}.py", outcome="ok", message="reloaded")


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
    add_routes(app, page.feed, heartbeat=0.2)
    # The page's own app has the default heartbeat; this one is served beside it for the test.
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


def test_the_routes_are_added_once_per_app(page: DemoPage) -> None:
    assert add_routes(page.app, page.feed) is False
    paths = [getattr(route, "path", None) for route in page.app.routes]
    assert paths.count(EVENTS_PATH) == 1 and paths.count(STATUS_PATH) == 1


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
    from hotreload_lib.ui import summary_html

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
