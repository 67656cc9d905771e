"""What counts as a change between two versions of a source file, and how loaded modules are
found by their file and remembered from the moment tracking starts."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotreload_lib.update import codediff
from hotreload_lib.update.codediff import ScopeDiff, Version, diff_versions, parse, reparse
from hotreload_lib.update.modupdate import Change
from hotreload_lib.update.tracked import SourceStore, modules_from_file, read_text
from tests.conftest import write
from tests.update_support import TrackedPackage, tracked_package


@pytest.fixture
def pkg(tmp_path: Path) -> Iterator[TrackedPackage]:
    with tracked_package(tmp_path) as package:
        yield package


def diff(old: str, new: str) -> ScopeDiff:
    return diff_versions(parse(textwrap.dedent(old), "m.py"), parse(textwrap.dedent(new), "m.py"))


SOURCE = """
    import os

    def first(a, b=1):
        return a + b

    class Widget:
        def run(self):
            return 1

    REGISTRY = [first]
"""


def test_moving_definitions_and_editing_comments_is_no_change() -> None:
    moved = """
        # a new header comment
        import os

        class Widget:
            # a comment inside, and a blank line

            def run(self):
                return 1  # a comment

        def first(a,
                  b=1):
            return a + b


        REGISTRY = [first]
    """
    result = diff(SOURCE, moved)
    assert result.is_empty
    assert len(result.unchanged) == 4


def test_changed_added_and_removed_statements_pair_by_name() -> None:
    edited = SOURCE.replace("a + b", "a - b").replace("REGISTRY = [first]", "REGISTRY = [first, first]") \
        .replace("import os", "import sys")
    result = diff(SOURCE, edited)
    assert sorted(pair.new.name or str(sorted(pair.new.binds)) for pair in result.changed) == ["['REGISTRY']", "first"]
    assert [statement.binds for statement in result.added] == [frozenset({"sys"})]
    assert [statement.binds for statement in result.removed] == [frozenset({"os"})]


def test_a_changed_class_gets_the_difference_of_its_body() -> None:
    result = diff(SOURCE, SOURCE.replace("return 1", "return 2"))
    (pair,) = result.changed
    assert pair.new.name == "Widget" and pair.body is not None
    assert [inner.new.name for inner in pair.body.changed] == ["run"]


def test_a_property_setter_pairs_with_the_setter() -> None:
    source = """
        class Box:
            @property
            def size(self):
                return self._size

            @size.setter
            def size(self, value):
                self._size = value
    """
    result = diff(source, source.replace("self._size = value", "self._size = value * 2"))
    (pair,) = result.changed
    assert pair.body is not None
    (setter,) = pair.body.changed
    assert setter.old.first_line == 7 and setter.new.first_line == 7
    assert not setter.decorators_changed


def test_modules_are_found_by_their_file_through_a_symlink(pkg: TrackedPackage, tmp_path: Path) -> None:
    pkg.write("mod", "VALUE = 1\n")
    mod = pkg.load("mod")
    link = tmp_path / "linked"
    try:
        os.symlink(pkg.folder, link, target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("no symlinks here")
    assert modules_from_file(pkg.path("mod")) == [mod]
    assert modules_from_file(link / "mod.py") == [mod]
    assert modules_from_file(pkg.folder / "other.py") == []


def test_the_first_edit_is_compared_with_the_source_snapshotted_when_tracking_began(pkg: TrackedPackage) -> None:
    pkg.write("mod", "def value():\n    return 1\n\ndef other():\n    return 'a'\n")
    pkg.write("sub", "def sub():\n    return 1\n")
    mod = importlib.import_module(f"{pkg.name}.mod")
    sub = importlib.import_module(f"{pkg.name}.sub")
    store = SourceStore()

    taken = store.snapshot_loaded(pkg.folder)

    assert set(taken) == {mod, sub, sys.modules[pkg.name]}
    assert store.snapshot_loaded(pkg.folder) == []  # already known
    write(pkg.path("mod"), "def value():\n    return 2\n\ndef other():\n    return 'a'\n")
    result = store.update(mod, read_text(pkg.path("mod")))
    assert result.ok and result.changed == [Change(f"{mod.__name__}.value", "function", "updated")]
    assert mod.value() == 2
    assert store.source_of(mod) == read_text(pkg.path("mod"))


def test_a_module_not_snapshotted_is_refused(pkg: TrackedPackage) -> None:
    pkg.write("mod", "def value():\n    return 1\n")
    mod = importlib.import_module(f"{pkg.name}.mod")
    result = SourceStore().update(mod, "def value():\n    return 2\n")
    assert result.status == "refused" and "snapshot" in result.reason
    assert mod.value() == 1


def placed(version: Version) -> list[tuple[str, int, int]]:
    """Each top-level statement's AST and lines, as the version places it."""
    return [(ast.dump(node), node.lineno + moved, (node.end_lineno or 0) + moved) for node, moved in version.body]


def edits(text: str) -> Iterator[str]:
    """Many one-place edits of `text`, valid Python or not: lines inserted, removed, duplicated,
    indented, a string or bracket opened."""
    lines = text.splitlines(keepends=True)
    for at in range(0, len(lines), 7):
        for change in ([], ["\n"], ["# note\n"], [lines[at], lines[at]], ["    " + lines[at]], ['x = """\n'],
                       ["y = (\n"], ["def added():\n", "    return 1\n"]):
            yield "".join(lines[:at] + change + lines[at + 1:])


def test_parsing_only_the_changed_lines_agrees_with_parsing_the_whole_file() -> None:
    path = Path(codediff.__file__)
    old = parse(path.read_text(encoding="utf-8"), str(path))
    compared = 0
    for text in edits(old.text):
        try:
            whole = parse(text, str(path))
        except SyntaxError as error:
            with pytest.raises(SyntaxError) as raised:
                reparse(old, text)
            assert (raised.value.lineno, raised.value.msg) == (error.lineno, error.msg)
            continue
        assert placed(reparse(old, text)) == placed(whole)
        compared += 1
    assert compared > 50


def test_a_module_loaded_after_tracking_began_by_another_loader_is_found_by_the_next_scan(
        pkg: TrackedPackage) -> None:
    store = SourceStore()
    path = pkg.write("late", "def value():\n    return 1\n")
    importlib.import_module(pkg.name)
    assert store.snapshot_loaded(pkg.folder) == [sys.modules[pkg.name]]
    # Made the way a loader other than Python's own file loader would (the import hook never sees it).
    late = types.ModuleType(f"{pkg.name}.late")
    late.__file__ = str(path)
    exec(compile(read_text(path), str(path), "exec"), late.__dict__)
    sys.modules[late.__name__] = late

    assert store.snapshot_loaded(pkg.folder) == [late]
    result = store.update(late, "def value():\n    return 2\n")
    assert result.ok and late.value() == 2


def test_a_module_written_just_before_its_import_and_edited_at_once_is_updated(pkg: TrackedPackage) -> None:
    """Editors, `git checkout` and code generators write a file a moment before it is imported: the
    import hook records the text the import compiled, so an edit saved at once (before any scan)
    is compared with what runs."""
    store = SourceStore()
    importlib.import_module(pkg.name)
    assert store.snapshot_loaded(pkg.folder) == [sys.modules[pkg.name]]
    path = pkg.write("late", "def value():\n    return 1\n\nCOUNT = []\nCOUNT.append(1)\n")
    late = importlib.import_module(f"{pkg.name}.late")
    write(path, "def value():\n    return 2\n\nCOUNT = []\nCOUNT.append(1)\n")  # saved again before any scan

    assert store.source_of(late) == "def value():\n    return 1\n\nCOUNT = []\nCOUNT.append(1)\n"
    assert store.snapshot_loaded(pkg.folder) == []  # known since its import
    result = store.update(late, read_text(path))
    assert result.ok and [change.name for change in result.changed] == [f"{late.__name__}.value"]
    assert late.value() == 2 and late.COUNT == [1]  # the unchanged statements did not run again
    write(path, "def value():\n    return 3\n\nCOUNT = []\nCOUNT.append(1)\n")
    assert store.update(late, read_text(path)).ok and late.value() == 3  # and every later save


def test_a_file_the_host_executes_after_tracking_began_is_known_from_its_run(pkg: TrackedPackage) -> None:
    """A script file executed from file (spec_from_file_location, as the host does for scripts/*.py
    and again on Reload UI) goes through the same hook, even when a cached .pyc of older text exists."""
    store = SourceStore()
    store.snapshot_loaded(pkg.folder)
    path = pkg.write("script", "def title():\n    return 'old'\n")
    spec = importlib.util.spec_from_file_location("script.py", path)
    assert spec is not None and spec.loader is not None
    first = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(first)  # leaves a .pyc of this text
    write(path, "def title():\n    return 'new'\n")
    second = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(second)

    assert second.title() == "new" and store.source_of(second) == read_text(path)
    assert store.source_of(first) == "def title():\n    return 'old'\n"
