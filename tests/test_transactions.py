"""A file's re-run swaps its replacements atomically for callers on other threads."""
from __future__ import annotations

import sys
import textwrap
import threading
import types
from pathlib import Path

from tests.conftest import write

TARGET = types.ModuleType("hot_reload_swap_target")
exec("def greet(name):\n    return 'original ' + name\n\nclass Widget:\n    pass\n", TARGET.__dict__)
sys.modules[TARGET.__name__] = TARGET
GREET = TARGET.greet
ORIGINAL_WIDGET = TARGET.Widget


def version(word: str, tail: str = "") -> str:
    return textwrap.dedent(f"""
        import time
        import hot_reload_swap_target as target
        from hotreload_lib import replace

        # The webui keeps serving while this runs; it must keep getting the last version meanwhile.
        time.sleep(0.3)

        class Widget(target.Widget):
            word = {word!r}

        replace(target, "greet", lambda name: {word!r} + " " + name)
        replace(target, "Widget", Widget)
    """) + tail


def sample_during(action: callable) -> list[str]:
    seen: list[str] = []
    stop = threading.Event()

    def call() -> None:
        while not stop.is_set():
            seen.append(GREET("x").split()[0])

    caller = threading.Thread(target=call)
    caller.start()
    try:
        action()
    finally:
        stop.set()
        caller.join()
    return seen


def test_a_rerun_goes_from_the_old_code_straight_to_the_new(live_dir: Path, make_reloader) -> None:
    _, watcher = make_reloader()
    write(live_dir / "swap.py", version("first"))
    watcher.file("swap.py", "ok")

    def save_again() -> None:
        write(live_dir / "swap.py", version("second"))
        watcher.file("swap.py", "ok")

    seen = sample_during(save_again)
    assert set(seen) <= {"first", "second"}, "a caller saw the original during the re-run"
    assert "second" not in seen or "first" not in seen[seen.index("second"):]
    assert GREET("x") == "second x"
    # An attribute target shows its original while the file runs: the class is built on it, not
    # on the file's own last replacement.
    assert TARGET.Widget.__mro__[1] is ORIGINAL_WIDGET


def test_a_failing_rerun_never_shows_the_original_either(live_dir: Path, make_reloader) -> None:
    _, watcher = make_reloader()
    write(live_dir / "swap.py", version("first"))
    watcher.file("swap.py", "ok")

    def break_it() -> None:
        write(live_dir / "swap.py", version("second", "raise RuntimeError('late')\n"))
        watcher.file("swap.py", "error")

    seen = sample_during(break_it)
    assert "original" not in seen, "a caller saw the original during the failing re-run"
    assert GREET("x") == "first x" and TARGET.Widget.word == "first"
    (live_dir / "swap.py").unlink()
    watcher.file("swap.py", "removed")
    assert GREET("x") == "original x" and TARGET.Widget is ORIGINAL_WIDGET
