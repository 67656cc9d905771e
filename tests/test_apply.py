"""Apply and report: `POST ./hot-reload/apply` on the demo's gradio server (built like the webui's),
on the stand-in webui's app and on `watch --port`, driven by the `apply` command in a Python without
site-packages (it must need the standard library only), with real files and a real watcher."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotreload_lib.demo import REPO_ROOT, DemoPage, free_port
from hotreload_lib.events import EventLog
from hotreload_lib.hooks import HostHooks
from hotreload_lib.page.apply import parse_ask
from hotreload_lib.page.server import Feed
from hotreload_lib.patch.registry import PatchRegistry
from tests.conftest import feed_of, write
from tests.standin.host import StandinWebui

ServePage = Callable[..., DemoPage]
GOOD = "from hotreload_lib import replace\nimport posixpath\nreplace(posixpath, 'basename', lambda p: 'x')\n"


def apply_command(url: str, *options: str) -> subprocess.CompletedProcess[str]:
    """`python -m hotreload_lib apply`, in a Python that sees no site-packages (-S)."""
    return subprocess.run([sys.executable, "-S", "-m", "hotreload_lib", "apply", "--url", url, *options],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


def post_apply(page: DemoPage, **params: Any) -> httpx.Response:
    return httpx.post(page.url + "hot-reload/apply", params=params, timeout=120)


@pytest.fixture
def busy() -> list[str]:
    """Whether a generation runs, as the host's busy() says: "" is idle."""
    return [""]


@pytest.fixture
def served(make_reloader: Callable[..., Any], serve_page: ServePage, busy: list[str]) -> tuple[Any, DemoPage]:
    reloader, _watcher = make_reloader(host=HostHooks(busy=lambda: busy[0]))
    return reloader, serve_page(feed_of(reloader))


def test_a_good_save_applies_and_the_command_exits_0_with_its_event(served: Any, live_dir: Path) -> None:
    _reloader, page = served
    write(live_dir / "good.py", GOOD)
    done = apply_command(page.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("good.py: ok: reloaded in ") and "posixpath.basename" in done.stdout
    again = apply_command(page.url)  # nothing saved since: nothing to report, all is well
    assert (again.returncode, again.stdout) == (0, "")


def test_a_syntax_error_exits_1_with_file_line_and_traceback(served: Any, live_dir: Path) -> None:
    _reloader, page = served
    write(live_dir / "broken.py", "x = 1\ny = (\n")
    done = apply_command(page.url)
    assert done.returncode == 1
    first, *traceback = done.stdout.splitlines()
    assert first.startswith("broken.py:2: error: SyntaxError: ")
    assert any("SyntaxError" in line for line in traceback) and all(line.startswith("    ") for line in traceback)
    assert "failing: broken.py" in done.stderr
    again = apply_command(page.url)  # nothing saved since, and the file still fails: not ok
    assert (again.returncode, again.stdout) == (1, "")
    assert "still failing since an earlier save: broken.py" in again.stderr
    write(live_dir / "broken.py", "x = 1\n")
    assert apply_command(page.url).returncode == 0


def test_two_files_saved_then_apply_reports_both(served: Any, live_dir: Path) -> None:
    _reloader, page = served
    write(live_dir / "one.py", "x = 1\n")
    write(live_dir / "two.py", "raise ValueError('two')\n")
    body = post_apply(page).json()
    newest = {event["file"]: event["outcome"] for event in body["events"]}
    assert newest == {"one.py": "ok", "two.py": "error"}
    assert body["ok"] is False and body["failed"] == body["failing"] == ["two.py"] and body["pending"] == []
    write(live_dir / "two.py", "x = 2\n")  # fixed: the next call covers only this save
    body = post_apply(page).json()
    assert [(event["file"], event["outcome"]) for event in body["events"]] == [("two.py", "ok")]
    assert body["ok"] is True


def test_a_save_the_watcher_has_not_reported_yet_is_waited_for(make_reloader: Callable[..., Any],
                                                              serve_page: ServePage, live_dir: Path) -> None:
    """A polling watcher reports a save at its next scan, up to half a second later: the call
    still covers it (the marker file it sends through the watcher comes back after it)."""
    reloader, _watcher = make_reloader(force_polling="forced by the test")
    page = serve_page(feed_of(reloader))
    assert reloader.mode == "polling"
    for number in range(3):
        write(live_dir / f"late{number}.py", f"x = {number}\n")
        body = post_apply(page).json()
        assert [(event["file"], event["outcome"]) for event in body["events"]] == [(f"late{number}.py", "ok")], body


def test_a_tracked_trees_saves_are_waited_for_and_reported(make_reloader: Callable[..., Any], serve_page: ServePage,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))  # importable, as a tracked tree must be without a webui
    tree = tmp_path / "my-ext"
    write(tree / "style.css", "#my-ext { color: red; }\n")
    reloader, _watcher = make_reloader(tracked=[tree])
    page = serve_page(feed_of(reloader))
    write(tree / "style.css", "#my-ext { color: blue; }\n")
    body = post_apply(page).json()
    assert [(event["file"], event["asset"]) for event in body["events"]] == [("my-ext/style.css", "css")]
    assert body["ok"] is True


def test_a_running_generation_is_waited_for_unless_now(served: Any, live_dir: Path, busy: list[str]) -> None:
    _reloader, page = served
    busy[0] = "a generation is running"
    write(live_dir / "waits.py", "x = 1\n")
    answers: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answers.append(post_apply(page)))
    caller.start()
    with httpx.Client(timeout=30) as client:
        while not client.get(page.url + "hot-reload/status").json()["waiting"]:
            time.sleep(0.02)
    busy[0] = ""  # the generation ends: only now may the file run, and the call answer
    caller.join(60)
    [answer] = answers
    outcomes = [(event["file"], event["outcome"]) for event in answer.json()["events"]]
    assert outcomes == [("waits.py", "deferred"), ("waits.py", "ok")] and answer.json()["ok"] is True

    busy[0] = "a generation is running"
    write(live_dir / "waits.py", "x = 2\n")
    answer = post_apply(page, now=1)  # still busy: applied because it was asked
    assert [event["outcome"] for event in answer.json()["events"]][-1] == "ok"
    assert answer.status_code == 200 and answer.json()["ok"] is True


def test_past_the_timeout_the_command_exits_2_and_lists_what_is_pending(served: Any, live_dir: Path,
                                                                       busy: list[str]) -> None:
    _reloader, page = served
    busy[0] = "a generation is running"
    write(live_dir / "held.py", "x = 1\n")
    answer = post_apply(page, timeout=0.3)
    assert answer.status_code == 504
    body = answer.json()
    assert body["ok"] is False and body["timed_out"] is True and body["pending"] == ["held.py"]
    assert body["waiting"] == "a generation is running"
    done = apply_command(page.url, "--timeout", "0.3")
    assert done.returncode == 2
    assert "still pending: held.py" in done.stderr and "waiting because a generation is running" in done.stderr


def test_ten_callers_at_once_are_all_answered(served: Any, live_dir: Path) -> None:
    _reloader, page = served
    since = post_apply(page).json()["last_seq"]
    for number in range(5):
        write(live_dir / f"many{number}.py", f"x = {number}\n")
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: post_apply(page, since=since), range(10)))
    for answer in answers:
        assert answer.status_code == 200 and answer.json()["ok"] is True
        assert sorted(event["file"] for event in answer.json()["events"]) == [f"many{n}.py" for n in range(5)]


def test_a_client_that_goes_away_leaves_no_waiter(served: Any, live_dir: Path, busy: list[str]) -> None:
    _reloader, page = served
    busy[0] = "a generation is running"
    write(live_dir / "held.py", "x = 1\n")
    with socket.create_connection(("127.0.0.1", page.port)) as sock:
        sock.sendall(f"POST /hot-reload/apply?timeout=300 HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\n"
                     "Content-Length: 0\r\n\r\n".encode())
        while not [t for t in threading.enumerate() if t.name == "hot-reload-apply"]:
            time.sleep(0.01)
    deadline = time.monotonic() + 30
    while [t for t in threading.enumerate() if t.name == "hot-reload-apply"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "hot-reload-apply"], "the waiter outlived its client"


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site"}], ids=["other-site", "cross-site", "same-site"])
def test_another_sites_page_is_refused(served: Any, headers: dict[str, str]) -> None:
    _reloader, page = served
    answer = httpx.post(page.url + "hot-reload/apply", headers=headers, timeout=30)
    assert answer.status_code == 403 and answer.json()["detail"].startswith("Cross-site request refused: ")


def test_with_gradio_auth_the_call_wants_the_login(make_reloader: Callable[..., Any], serve_page: ServePage,
                                                   live_dir: Path) -> None:
    reloader, _watcher = make_reloader()
    page = serve_page(feed_of(reloader), auth=[("admin", "s3cret")])
    assert post_apply(page).status_code == 401
    refused = apply_command(page.url)
    assert refused.returncode == 2 and "wants a login: pass --auth" in refused.stderr
    wrong = apply_command(page.url, "--auth", "admin:wrong")
    assert wrong.returncode == 2 and "login" in wrong.stderr and "refused" in wrong.stderr
    write(live_dir / "good.py", GOOD)
    done = apply_command(page.url, "--auth", "admin:s3cret")
    assert done.returncode == 0 and done.stdout.startswith("good.py: ok: "), done.stderr


def test_hot_reload_off_bad_parameters_and_no_server(serve_page: ServePage, served: Any) -> None:
    off = apply_command(serve_page(Feed(EventLog(), PatchRegistry(), lambda: None)).url)
    assert off.returncode == 2 and "Hot reload is off" in off.stderr
    _reloader, on = served
    for params in ({"timeout": "soon"}, {"since": "-1"}, {"now": "maybe"}):
        answer = post_apply(on, **params)
        assert answer.status_code == 400 and answer.json()["detail"], params
    assert httpx.get(on.url + "hot-reload/apply", timeout=30).status_code == 405
    unreachable = apply_command(f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr


def test_parse_ask_caps_the_timeout() -> None:
    assert parse_ask({}).timeout == 30 and parse_ask({"timeout": "1e9"}).timeout == 300
    assert parse_ask({"now": "1", "since": "7"}).now is True and parse_ask({"since": "7"}).since == 7


def test_json_output_is_the_servers_answer(served: Any, live_dir: Path) -> None:
    _reloader, page = served
    write(live_dir / "good.py", GOOD)
    done = apply_command(page.url, "--json")
    body = json.loads(done.stdout)
    assert done.returncode == 0 and body["ok"] is True and [e["file"] for e in body["events"]] == ["good.py"]


# -- the standalone watcher --------------------------------------------------------------------------
@pytest.fixture
def watch_process(live_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    command = [sys.executable, "-m", "hotreload_lib", "watch", str(live_dir), "--port", "0"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        url = ""
        for line in process.stderr:
            if "answering apply calls on " in line:
                url = line.rsplit(" ", 1)[1].strip()
                break
        assert url, "the watcher never said where it answers"
        yield process, url
    finally:
        process.terminate()
        process.wait(30)


def test_watch_answers_apply_on_its_port(watch_process: tuple[subprocess.Popen[str], str], live_dir: Path) -> None:
    _process, url = watch_process
    write(live_dir / "good.py", GOOD)
    done = apply_command(url)
    assert done.returncode == 0 and done.stdout.startswith("good.py: ok: "), done.stderr
    write(live_dir / "good.py", "1/0\n")
    done = apply_command(url)
    assert done.returncode == 1 and done.stdout.startswith("good.py:1: error: ZeroDivisionError")
    answer = httpx.post(url + "/hot-reload/apply", headers={"Origin": "http://evil.example"}, timeout=30)
    assert answer.status_code == 403


# -- the stand-in webui: the route on the app it makes, served on 127.0.0.1 ----------------------------
@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    import uvicorn

    servers: list[tuple[Any, threading.Thread]] = []

    def serve(app: Any) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        while not server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(30)


def test_the_webuis_app_answers_apply_for_live_files_and_tracked_modules(
        webui: StandinWebui, tmp_path: Path, serve_app: Callable[[Any], str]) -> None:
    tree = webui.webui_root / "extensions" / "my-ext"
    write(tree / "my_ext_lib" / "__init__.py", "")
    write(tree / "my_ext_lib" / "greeting.py", "def greet(name):\n    return 'hello ' + name\n")
    sys.path.insert(0, str(tree))
    try:
        import my_ext_lib.greeting  # type: ignore[import-not-found]  # loaded, as the extension's code would be

        live = tmp_path / "live"
        live.mkdir()
        webui.preload(["--hot-reload-dir", str(live), "--hot-reload-track", str(tree)])
        url = serve_app(webui.start())
        write(tree / "my_ext_lib" / "greeting.py", "def greet(name):\n    return 'bonjour ' + name\n")
        write(live / "good.py", "x = 1\n")
        done = apply_command(url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "my-ext/my_ext_lib/greeting.py: updated: updated my_ext_lib.greeting" in done.stdout
        assert "good.py: ok: " in done.stdout and my_ext_lib.greeting.greet("p") == "bonjour p"
        write(tree / "my_ext_lib" / "greeting.py", "def greet(name):\n    return 'hi ' +\n")
        done = apply_command(url)
        assert done.returncode == 1 and done.stdout.startswith("my-ext/my_ext_lib/greeting.py:2: error: SyntaxError")
    finally:
        sys.path.remove(str(tree))
        for name in [name for name in sys.modules if name.split(".")[0] == "my_ext_lib"]:
            del sys.modules[name]
