"""Reload UI takes what cannot change in place (issue 19, "never a dead end"): before the host executes
the scripts again, the tracked extensions' modules leave sys.modules, so the scripts import them
afresh. In the stand-in webui, which reloads in A1111's order, with real files and a real watchdog
observer: a class-shape change refused in place applies after one Reload UI."""
from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EventWatcher, webui_events, write
from tests.standin.host import StandinWebui

SCRIPT = textwrap.dedent("""
    import ext_ns.tool
    from modules import scripts
    from ext_lib import Shape

    shape = Shape()


    class ExtScript(scripts.Script):
        def title(self):
            return "Ext"

        def run(self, p, *args):
            return shape
""")
EXT_LIB = textwrap.dedent("""
    class Base:
        pass


    class Other:
        pass


    class Shape(Base):
        def describe(self):
            return "v1"
""")
BASES = ("class Shape(Base):", "class Shape(Base, Other):")
HELPER = "ext/ext_lib/__init__.py"


def unload(*packages: str) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] in packages]:
        del sys.modules[name]


@pytest.fixture
def ext(webui: StandinWebui) -> Iterator[Path]:
    """An extension of the user's: its script imports its helper package, as extensions do; beside
    it an extension that is not tracked, with a helper package of its own."""
    from modules import extensions

    folder = webui.webui_root / "extensions" / "ext"
    write(folder / "scripts" / "ext.py", SCRIPT)
    write(folder / "ext_lib" / "__init__.py", EXT_LIB)
    write(folder / "ext_ns" / "tool.py", "TOOL = 1\n")  # in a namespace package (no __init__.py)
    untracked = webui.webui_root / "extensions" / "untracked"
    write(untracked / "scripts" / "untracked.py", "import untracked_lib\n")
    write(untracked / "untracked_lib" / "__init__.py", "class Shape:\n    pass\n")
    for extension in (folder, untracked):
        webui.extension_dirs.append(extension)
        extensions.extensions.append(extensions.Extension(extension.name, str(extension)))
    yield folder
    unload("ext_lib", "ext_ns", "untracked_lib")


def start(webui: StandinWebui, tmp_path: Path, *tracked: Path) -> EventWatcher:
    live = tmp_path / "live"
    live.mkdir(exist_ok=True)
    flags = [arg for tree in tracked for arg in ("--hot-reload-track", str(tree))]
    webui.preload(["--hot-reload-dir", str(live), *flags])
    webui.start()
    return webui_events()


def the_script() -> Any:
    from modules import scripts

    [instance] = [s for s in scripts.scripts_txt2img.scripts if s.title() == "Ext"]
    return instance


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    time.sleep(0.01)  # a new mtime, even on coarse clocks
    write(path, text.replace(old, new))


def failing_files() -> list[str]:
    return [event["file"] for event in sys.modules["hotreload_lib.reloader"].get_reloader().status()["failing"]]


def test_a_class_shape_change_refused_in_place_applies_after_one_reload_ui(
        webui: StandinWebui, ext: Path, tmp_path: Path) -> None:
    watcher = start(webui, tmp_path, ext)
    helper, untracked, ours = sys.modules["ext_lib"], sys.modules["untracked_lib"], dict(our_modules())
    namespace, tool = sys.modules["ext_ns"], sys.modules["ext_ns.tool"]
    edit(ext / "ext_lib" / "__init__.py", *BASES)
    refused = watcher.file(HELPER)
    assert (refused.outcome, refused.needs) == ("error", "reload_ui")
    assert refused.message.endswith("(Reload UI to apply: it loads the extension's modules afresh)")
    assert failing_files() == [HELPER]
    assert [cls.__name__ for cls in type(the_script().run(None)).__mro__] == ["Shape", "Base", "object"]

    webui.reload_ui()
    fresh = sys.modules["ext_lib"]
    assert fresh is not helper, "the helper package must be imported afresh"
    assert sys.modules["ext_ns"] is not namespace and sys.modules["ext_ns.tool"] is not tool
    shape = the_script().run(None)  # the Script instance the new UI made, from the script run again
    assert isinstance(shape, fresh.Other) and type(shape) is fresh.Shape
    loaded = watcher.file(HELPER)
    assert loaded.outcome == "updated" and "loaded ext_lib afresh" in loaded.message
    assert failing_files() == []
    assert sys.modules["untracked_lib"] is untracked, "a module outside the tracked trees is left alone"
    assert dict(our_modules()) == ours, "hot reload's own modules are never dropped"

    # The new module is known as what it runs: a later edit updates it in place.
    edit(ext / "ext_lib" / "__init__.py", '"v1"', '"v2"')
    updated = watcher.file(HELPER)
    assert (updated.outcome, updated.modules) == ("updated", ("ext_lib",))
    assert {"name": "ext_lib.Shape.describe", "kind": "method", "action": "updated"} in updated.changed
    assert shape.describe() == "v2" and sys.modules["ext_lib"] is fresh


def our_modules() -> Iterator[tuple[str, object]]:
    return ((name, module) for name, module in list(sys.modules.items()) if name.split(".")[0] == "hotreload_lib")


def test_a_helper_that_fails_to_import_at_reload_ui_still_fails_until_it_loads(
        webui: StandinWebui, ext: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    watcher = start(webui, tmp_path, ext)
    edit(ext / "ext_lib" / "__init__.py", *BASES)
    assert watcher.file(HELPER).needs == "reload_ui"
    edit(ext / "ext_lib" / "__init__.py", "def describe(self):", "def describe(self:")
    broken = watcher.file(HELPER)
    assert broken.outcome == "error" and broken.error is not None and broken.error.type == "SyntaxError"

    webui.reload_ui()
    assert "ext_lib" not in sys.modules and "SyntaxError" in capfd.readouterr().err  # as the host reports it
    assert failing_files() == [HELPER], "a file still failing after Reload UI is not hidden"

    edit(ext / "ext_lib" / "__init__.py", "def describe(self:", "def describe(self):")
    unloaded = watcher.file(HELPER)
    assert (unloaded.outcome, unloaded.needs) == ("error", "reload_ui") and "no module runs it now" in unloaded.message
    webui.reload_ui()
    assert watcher.file(HELPER).outcome == "updated" and failing_files() == []
    assert isinstance(the_script().run(None), sys.modules["ext_lib"].Other)


def test_reload_ui_while_disabled_drops_nothing(webui: StandinWebui, ext: Path, tmp_path: Path) -> None:
    from modules import shared

    start(webui, tmp_path, ext)
    helper = sys.modules["ext_lib"]
    shared.opts.set("hot_reload_enabled", False)
    webui.reload_ui()
    assert sys.modules["ext_lib"] is helper


def test_what_reload_ui_cannot_load_afresh_says_restart(webui: StandinWebui, ext: Path, tmp_path: Path) -> None:
    """Hot reload's own modules (its extension tracked by a developer of it) and a tracked folder that
    is no extension stay loaded through Reload UI: a change refused in them needs a restart, no button."""
    plain = tmp_path / "src"
    write(plain / "plain_lib.py", "class Base:\n    pass\n\n\nclass Shape(Base):\n    pass\n")
    sys.path.insert(0, str(plain))
    try:
        import plain_lib  # noqa: F401  (loaded, as the webui's own modules are)

        watcher = start(webui, tmp_path, plain, webui.ours)  # type: ignore[attr-defined]
        edit(plain / "plain_lib.py", "class Shape(Base):", "class Shape(Base, dict):")
        refused = watcher.file("src/plain_lib.py")
        assert (refused.outcome, refused.needs) == ("error", "restart")
        assert refused.message.endswith("(restart to apply: Reload UI does not load this module again)")
        ours = webui.ours / "hotreload_lib" / "gate.py"  # type: ignore[attr-defined]
        edit(ours, "class RunGate:", "class RunGate(dict):")
        mine = watcher.file(f"{webui.ours.name}/hotreload_lib/gate.py")  # type: ignore[attr-defined]
        assert (mine.outcome, mine.needs) == ("error", "restart")
        module, gate = sys.modules["plain_lib"], sys.modules["hotreload_lib.gate"]
        webui.reload_ui()
        assert sys.modules["plain_lib"] is module and sys.modules["hotreload_lib.gate"] is gate
    finally:
        sys.path.remove(str(plain))
        unload("plain_lib")
