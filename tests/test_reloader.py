"""The engine on real folders with the real watchdog observer: save -> run -> events."""
from __future__ import annotations

import inspect
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
from watchdog.observers import Observer

from hotreload_lib.patch.registry import PatchRegistry
from hotreload_lib.watching.switching import QUICK_INTERVAL
from tests.conftest import write

TARGET = types.ModuleType("hot_reload_test_target")
exec("def greet(name):\n    return 'hello ' + name\n", TARGET.__dict__)
sys.modules[TARGET.__name__] = TARGET
ORIGINAL_GREET = TARGET.greet
GREET_ALIAS = TARGET.greet  # a copy of the reference, as `from module import greet` makes


def patch_source(word: str) -> str:
    return textwrap.dedent(f"""
        import hot_reload_test_target as target
        from hotreload_lib import replace

        def greet(name):
            return {word!r} + " " + name

        replace(target, "greet", greet)
    """)


def test_files_present_at_start_run_in_a_stable_order(live_dir: Path, make_reloader) -> None:
    for name in ["b.py", "a.py", "sub/c.py", "sub/a.py", "a_dir/z.py"]:
        write(live_dir / name, "x = 1\n")
    _, watcher = make_reloader()
    # Plain path order: a folder's files come where its name sorts, not after the top level's.
    assert [watcher.next().file for _ in range(5)] == ["a.py", "a_dir/z.py", "b.py", "sub/a.py", "sub/c.py"]


def test_save_runs_the_file_and_patches_every_alias(live_dir: Path, make_reloader) -> None:
    _, watcher = make_reloader()
    write(live_dir / "tweak.py", patch_source("hi"))
    event = watcher.file("tweak.py", "ok")
    assert GREET_ALIAS("bob") == "hi bob"
    assert event.replaced == ({"target": "hot_reload_test_target.greet", "mode": "in-place", "note": ""},)
    write(live_dir / "tweak.py", patch_source("hey"))
    watcher.file("tweak.py", "ok")
    assert GREET_ALIAS("bob") == "hey bob"
    # Deleting the replace() line and saving restores the original: no manual restore needed.
    write(live_dir / "tweak.py", "import hot_reload_test_target\n")
    watcher.file("tweak.py", "ok")
    assert GREET_ALIAS("bob") == "hello bob"
    assert TARGET.greet is ORIGINAL_GREET


def test_delete_and_rename_undo_the_files_replacements(live_dir: Path, make_reloader) -> None:
    _, watcher = make_reloader()
    write(live_dir / "tweak.py", patch_source("hi"))
    watcher.file("tweak.py", "ok")
    os.rename(live_dir / "tweak.py", live_dir / "renamed.py")
    removed = watcher.file("tweak.py", "removed")
    assert removed.restored == ("hot_reload_test_target.greet",)
    watcher.file("renamed.py", "ok")
    assert GREET_ALIAS("x") == "hi x"
    (live_dir / "renamed.py").unlink()
    watcher.file("renamed.py", "removed")
    assert GREET_ALIAS("x") == "hello x"


@pytest.mark.parametrize("bad_tail, line", [
    ("raise ValueError('boom')\n", 9),
    ("x = (\n", 9),
    ("import sys\nsys.exit(3)\n", 10),
    ("raise KeyboardInterrupt\n", 9),
    ("raise SystemExit\n", 9),
])
def test_a_failing_run_keeps_the_last_good_replacements(
        live_dir: Path, make_reloader, bad_tail: str, line: int) -> None:
    _, watcher = make_reloader()
    write(live_dir / "tweak.py", patch_source("good"))
    watcher.file("tweak.py", "ok")
    # The failing version replaces with another word first: that half-done replacement must go.
    write(live_dir / "tweak.py", patch_source("half") + bad_tail)
    event = watcher.file("tweak.py", "error")
    assert event.error is not None and event.error.line == line
    assert event.error.file == str(live_dir / "tweak.py")
    assert "kept the last good version" in event.message
    assert GREET_ALIAS("a") == "good a"
    write(live_dir / "tweak.py", patch_source("fixed"))
    watcher.file("tweak.py", "ok")
    assert GREET_ALIAS("a") == "fixed a"


def test_a_failing_file_at_start_does_not_stop_the_others(live_dir: Path, make_reloader) -> None:
    write(live_dir / "a_broken.py", "raise RuntimeError('first')\n")
    write(live_dir / "b_good.py", patch_source("still"))
    _, watcher = make_reloader()
    assert watcher.file("a_broken.py").outcome == "error"
    assert watcher.file("b_good.py").outcome == "ok"
    assert GREET_ALIAS("z") == "still z"


def test_one_reload_per_save_including_atomic_saves(live_dir: Path, make_reloader) -> None:
    _, watcher = make_reloader()
    write(live_dir / "one.py", "x = 1\n")
    watcher.file("one.py", "ok")
    assert watcher.quiet(0.8) == []
    # An editor's atomic save: write a temp file, then rename it over the live file.
    temp = live_dir / ".one.py.tmp1234"
    temp.write_text("x = 2\n", encoding="utf-8")
    os.replace(temp, live_dir / "one.py")
    watcher.file("one.py", "ok")
    assert watcher.quiet(0.8) == []


def test_hidden_cache_and_editor_temp_files_are_ignored(live_dir: Path, make_reloader) -> None:
    _, watcher = make_reloader()
    for name in [".hidden.py", ".git/x.py", "__pycache__/x.py", ".#lock.py", "x.py~", "x.py.swp",
                 "x.py___jb_tmp___", "notes.txt", "#auto.py#"]:
        write(live_dir / name, "raise RuntimeError('must not run')\n")
    assert watcher.quiet(1.0) == []


def test_live_module_has_real_name_file_source_and_tracebacks(live_dir: Path, make_reloader) -> None:
    _, watcher = make_reloader()
    source = textwrap.dedent("""
        import dataclasses
        import sys

        @dataclasses.dataclass
        class Point:
            x: "int"

        def where():
            return __name__, __file__

        def fail():
            raise LookupError("from the live file")
    """)
    path = live_dir / "pkg dir" / "my-mod.py"
    write(path, source)
    watcher.file("pkg dir/my-mod.py", "ok")
    name = next(name for name, module in sys.modules.items() if getattr(module, "__file__", None) == str(path))
    # Readable, and marked where the file name is not an identifier (so a_b.py is another module).
    assert re.fullmatch(r"hotreload_live\.pkg_dir-[0-9a-f]{8}\.my_mod-[0-9a-f]{8}", name)
    module = sys.modules[name]
    assert module.where() == (name, str(path))
    assert "def where():" in inspect.getsource(module.where)
    assert module.Point(1).x == 1
    assert pickle.loads(pickle.dumps(module.Point(2))) == module.Point(2)
    with pytest.raises(LookupError) as caught:
        module.fail()
    assert caught.traceback[-1].path == live_dir / "pkg dir" / "my-mod.py"
    (live_dir / "pkg dir" / "my-mod.py").unlink()
    watcher.file("pkg dir/my-mod.py", "removed")
    assert name not in sys.modules


def test_files_whose_names_differ_only_in_punctuation_are_separate_modules(live_dir: Path, make_reloader) -> None:
    _reloader, watcher = make_reloader()
    write(live_dir / "a-b.py", "WHO = 'dash'\n")
    watcher.file("a-b.py", "ok")
    write(live_dir / "a_b.py", "WHO = 'underscore'\n")
    watcher.file("a_b.py", "ok")
    (live_dir / "a-b.py").unlink()
    watcher.file("a-b.py", "removed")
    assert sys.modules["hotreload_live.a_b"].WHO == "underscore"
    assert [name for name in sys.modules if name.startswith("hotreload_live.a_b")] == ["hotreload_live.a_b"]


def test_teardown_runs_before_the_next_run_and_on_delete(live_dir: Path, make_reloader) -> None:
    log = live_dir.parent / "teardown.log"
    source = textwrap.dedent(f"""
        VERSION = {{}}
        def teardown():
            with open({str(log)!r}, "a") as f:
                f.write("down %s\\n" % VERSION)
    """)
    _, watcher = make_reloader()
    write(live_dir / "t.py", source.format(1))
    watcher.file("t.py", "ok")
    write(live_dir / "t.py", source.format(2) + "\nraise_in_teardown = True\n")
    watcher.file("t.py", "ok")
    assert log.read_text() == "down 1\n"
    write(live_dir / "t.py", "def teardown():\n    raise OSError('cannot stop')\n")
    watcher.file("t.py", "ok")
    write(live_dir / "t.py", "x = 1\n")
    event = watcher.file("t.py", "ok")
    assert any("teardown() failed: OSError: cannot stop" in note for note in event.notes)
    (live_dir / "t.py").unlink()
    watcher.file("t.py", "removed")


def test_folder_moved_in_and_out(live_dir: Path, make_reloader, tmp_path: Path) -> None:
    _, watcher = make_reloader()
    outside = tmp_path / "outside"
    write(outside / "inner.py", patch_source("moved-in"))
    os.rename(outside, live_dir / "pkg")
    watcher.file("pkg/inner.py", "ok")
    assert GREET_ALIAS("q") == "moved-in q"
    os.rename(live_dir / "pkg", tmp_path / "gone")
    watcher.file("pkg/inner.py", "removed")
    assert GREET_ALIAS("q") == "hello q"


def test_forced_polling_still_reloads(live_dir: Path, make_reloader) -> None:
    reloader, watcher = make_reloader(force_polling="forced by test")
    assert reloader.mode == "polling"
    assert "forced by test" in reloader.mode_reason
    write(live_dir / "p.py", patch_source("polled"))
    watcher.file("p.py", "ok")
    assert GREET_ALIAS("p") == "polled p"


def test_the_reloader_stops_and_restarts_cleanly(live_dir: Path, registry: PatchRegistry, make_reloader) -> None:
    write(live_dir / "p.py", patch_source("once"))
    reloader, watcher = make_reloader()
    watcher.file("p.py", "ok")
    reloader.stop()
    assert not reloader.running
    reloader.start()
    reloader.start()
    watcher.file("p.py", "ok")
    assert GREET_ALIAS("s") == "once s"


def test_cli_prints_one_json_line_per_event(live_dir: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "hotreload_lib", "watch", str(live_dir)], cwd=repo,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # The reloader logs its mode once it is watching; then a save must produce one line.
        assert process.stderr is not None and process.stdout is not None
        assert "watching" in process.stderr.readline()
        write(live_dir / "cli.py", "x = 1\n")
        event = json.loads(process.stdout.readline())
        assert (event["file"], event["outcome"], event["seq"]) == ("cli.py", "ok", 1)
        write(live_dir / "cli.py", "x = (\n")
        event = json.loads(process.stdout.readline())
        assert (event["outcome"], event["error"]["type"], event["error"]["line"]) == ("error", "SyntaxError", 1)
        # What a live file prints, itself or through a program it starts, is no part of the JSON stream.
        write(live_dir / "cli.py", "import os, sys\nprint('chatty')\nsys.stdout.flush()\nos.system('echo shell')\n")
        event = json.loads(process.stdout.readline())
        assert (event["file"], event["outcome"]) == ("cli.py", "ok")
        printed = set()
        for _ in range(10):  # the console lines of the runs come first
            printed.add(process.stderr.readline())
            if {"chatty\n", "shell\n"} <= printed:
                break
        assert {"chatty\n", "shell\n"} <= printed
    finally:
        process.terminate()
        process.wait(10)


def test_cli_rejects_a_missing_folder(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-m", "hotreload_lib", "watch", str(tmp_path / "nope")],
                            cwd=repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "is not a folder" in result.stderr


def test_latency_is_not_asserted_here_but_a_save_lands_fast_enough_to_use(live_dir: Path, make_reloader) -> None:
    """A generous bound only catches a fixed multi-second debounce creeping in; bench/ measures."""
    _, watcher = make_reloader()
    started = time.monotonic()
    write(live_dir / "fast.py", "x = 1\n")
    watcher.file("fast.py", "ok")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("source, first_line", [
    ("import json\n\ndef helper():\n    return json.loads('{')\n\nhelper()\n", 'line 6, in <module>'),
    ("x = (\n", None),
])
def test_tracebacks_start_in_the_live_file_not_in_the_reloader(live_dir: Path, make_reloader,
                                                               source: str, first_line: str | None) -> None:
    _, watcher = make_reloader()
    write(live_dir / "tb.py", source)
    event = watcher.file("tb.py", "error")
    assert event.error is not None
    assert "hotreload_lib" not in event.error.traceback
    if first_line is not None:
        frames = [line for line in event.error.traceback.splitlines() if line.startswith('  File "')]
        assert frames[0] == f'  File "{live_dir / "tb.py"}", {first_line}'


def test_an_exception_without_a_message_reads_cleanly(live_dir: Path, make_reloader) -> None:
    _, watcher = make_reloader()
    write(live_dir / "kbd.py", "raise KeyboardInterrupt\n")
    event = watcher.file("kbd.py", "error")
    assert event.message == "KeyboardInterrupt (nothing replaced)"


class SilentObserver(Observer):  # type: ignore[misc,valid-type]
    """The platform's observer on a file system that delivers no events (WSL /mnt, Docker Desktop
    bind mounts, network shares): it starts fine and then reports nothing."""

    def schedule(self, *args: object, **kwargs: object) -> None:
        return None


def test_a_native_watcher_that_stays_silent_is_replaced_by_polling(live_dir: Path, make_reloader) -> None:
    reloader, watcher = make_reloader(native_observer=SilentObserver)
    assert reloader.mode == "polling"
    assert "no event from the native watcher (SilentObserver) within 1 s" in reloader.mode_reason
    write(live_dir / "polled.py", patch_source("polled anyway"))
    watcher.file("polled.py", "ok")
    assert GREET_ALIAS("p") == "polled anyway p"


def test_cli_exits_with_an_error_when_watchdog_is_missing(live_dir: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    blocked = ("import sys; sys.modules['watchdog'] = None; from hotreload_lib.__main__ import main; "
               f"sys.exit(main(['watch', {str(live_dir)!r}]))")
    result = subprocess.run([sys.executable, "-c", blocked], cwd=repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    event = json.loads(result.stdout.splitlines()[-1])
    assert event["outcome"] == "error" and "watchdog is missing" in event["message"]


def test_an_empty_file_caught_mid_save_does_not_undo_the_replacements(live_dir: Path, make_reloader) -> None:
    """A save caught between its truncation and its write (storms, format-on-save) reads empty."""
    _, watcher = make_reloader()
    write(live_dir / "mid.py", patch_source("before"))
    watcher.file("mid.py", "ok")
    for _ in range(5):
        (live_dir / "mid.py").write_text("", encoding="utf-8")  # closed empty: a close event
        time.sleep(0.01)
        write(live_dir / "mid.py", patch_source("after"))
        event = watcher.file("mid.py", "ok")
        assert event.replaced, f"an empty in-between version ran: {event.message}"
        assert GREET_ALIAS("m") == "after m"
        write(live_dir / "mid.py", patch_source("before"))
        watcher.file("mid.py", "ok")
    # A file really emptied still runs (and so undoes its replacements), a moment later.
    (live_dir / "mid.py").write_text("", encoding="utf-8")
    assert watcher.file("mid.py", "ok").replaced == ()
    assert GREET_ALIAS("m") == "hello m"


def test_events_say_what_a_files_own_restore_calls_undid(live_dir: Path, make_reloader) -> None:
    _reloader, watcher = make_reloader()
    write(live_dir / "a.py", patch_source("from a"))
    watcher.file("a.py", "ok")
    write(live_dir / "b.py", patch_source("from b") + "from hotreload_lib import restore_all\nrestore_all()\n")
    event = watcher.file("b.py", "ok")
    # b's own replacement went with restore_all(): it is not reported as replaced.
    assert event.replaced == () and event.restored == ("hot_reload_test_target.greet",)
    assert "its restore() undid hot_reload_test_target.greet of a.py" in event.notes
    assert GREET_ALIAS("x") == "hello x"
    (live_dir / "a.py").unlink()
    assert watcher.file("a.py", "removed").message == "removed: it had replaced nothing"


def test_cli_tracks_a_source_tree_and_updates_what_live_files_imported(live_dir: Path, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    source = tmp_path / "src"
    write(source / "cli_tracked_pkg" / "__init__.py", "")
    write(source / "cli_tracked_pkg" / "words.py", "def word():\n    return 'one'\n")
    write(live_dir / "uses.py", "import cli_tracked_pkg.words\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "hotreload_lib", "watch", str(live_dir), "--track", str(source)], cwd=repo,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")])},
    )
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["outcome"] == "ok"  # uses.py ran and imported the package
        write(source / "cli_tracked_pkg" / "words.py", "def word():\n    return 'two'\n")  # at once: no clock window
        event = json.loads(process.stdout.readline())
        assert (event["file"], event["outcome"], event["modules"]) == (
            "src/cli_tracked_pkg/words.py", "updated", ["cli_tracked_pkg.words"])
    finally:
        process.terminate()
        process.wait(10)


def test_cli_says_when_a_tracked_tree_cannot_be_imported_and_when_a_save_ran_nothing(
        live_dir: Path, tmp_path: Path) -> None:
    """Without a webui only live files import a tracked tree's modules: the command says so."""
    repo = Path(__file__).resolve().parents[1]
    source = tmp_path / "elsewhere" / "src"
    write(source / "never_imported.py", "X = 1\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "hotreload_lib", "watch", str(live_dir), "--track", str(source)], cwd=repo,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        notice = json.loads(process.stdout.readline())
        assert notice["outcome"] == "info" and notice["message"] == (
            f"neither {source.resolve()} nor {source.resolve().parent} is on sys.path, so live files cannot import "
            "its modules: add one of them to PYTHONPATH")
        write(source / "never_imported.py", "X = 2\n")
        event = json.loads(process.stdout.readline())
        assert (event["file"], event["outcome"]) == ("src/never_imported.py", "info")
        assert event["message"].startswith("no loaded module comes from it, so nothing ran: a live file must import")
    finally:
        process.terminate()
        process.wait(10)


def test_an_exception_raised_in_a_replacement_when_called_is_reported_once(live_dir: Path, make_reloader) -> None:
    _reloader, watcher = make_reloader()
    write(live_dir / "calls.py", textwrap.dedent("""
        import hot_reload_test_target as target
        from hotreload_lib import replace

        def greet(name):
            if name == "bad":
                raise LookupError("no such user: " + name)
            return "fine " + name

        replace(target, "greet", greet)
    """))
    watcher.file("calls.py", "ok")
    raised = []
    for _ in range(3):
        try:
            GREET_ALIAS("bad")
        except LookupError as error:
            raised.append(error)
    assert len(raised) == 3 and str(raised[0]) == "no such user: bad"  # re-raised to the caller unchanged
    event = watcher.file("calls.py", "error")
    assert event.message.startswith("raised in your replacement of hot_reload_test_target.greet: LookupError")
    assert event.during == "call"  # the page says "Failed when called", not a load error
    assert event.error is not None and event.error.line == 7
    first_frame = event.error.traceback.splitlines()[1]
    assert 'line 7, in greet' in first_frame  # from your frame: no forwarding frame at the def line
    assert watcher.quiet(0.3) == []  # once per target within a few seconds
    assert GREET_ALIAS("ok") == "fine ok"


def test_threads_switch_quickly_while_a_save_is_handled_and_the_interval_comes_back(
        make_reloader: Any, live_dir: Path, tmp_path: Path) -> None:
    """A documented, bounded, process-wide effect: the run sees the quick interval, and the
    interval found before is back once the save was handled."""
    before = sys.getswitchinterval()
    seen = tmp_path / "seen.txt"
    _reloader, watcher = make_reloader()
    write(live_dir / "probe.py", f"import sys\nopen({str(seen)!r}, 'w').write(repr(sys.getswitchinterval()))\n")
    watcher.file("probe.py", "ok")
    assert float(seen.read_text()) == QUICK_INTERVAL < before
    deadline = time.monotonic() + 10
    while sys.getswitchinterval() != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sys.getswitchinterval() == before



@pytest.mark.parametrize("force_polling", ["", "polling asked for by the test"])
def test_a_save_is_heard_on_the_emitters_thread_before_the_observer_dispatches_it(
        tmp_path: Path, force_polling: str) -> None:
    """The quick switch interval starts there: one thread hand-off sooner than the handler."""
    from hotreload_lib.watching.watch import start_observer

    heard: list[tuple[threading.Thread, float]] = []
    sunk: list[tuple[threading.Thread, float, str]] = []

    def sink(path: str, _delay: float) -> None:
        sunk.append((threading.current_thread(), time.monotonic(), path))

    def on_seen() -> None:
        heard.append((threading.current_thread(), time.monotonic()))

    mode = start_observer(tmp_path, sink, force_polling=force_polling, on_seen=on_seen)
    try:
        write(tmp_path / "notes.txt", "not a live file\n")
        write(tmp_path / "tweak.py", "x = 1\n")
        deadline = time.monotonic() + 10
        while not sunk and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1.2)  # the file's later events (and a polling round) are dispatched too
        emitters = set(mode.observer.emitters)
    finally:
        mode.observer.stop()
        mode.observer.join(5)
    assert sunk and sunk[0][2].endswith("tweak.py"), "the save never reached the sink"
    assert heard, "on_seen was never called"
    assert heard[0][0] in emitters and sunk[0][0] not in emitters
    assert heard[0][1] <= sunk[0][1]
    assert len(heard) == len(sunk), "an event that does not count (notes.txt, the probe) was heard too"
