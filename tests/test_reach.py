"""Which functions a page builder may call (hotreload_lib/update/reach.py), read from its code: real
modules on disk, imported the normal way."""
from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotreload_lib.update.reach import reaches
from tests.conftest import write


@pytest.fixture
def ext(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "ext"
    write(root / "ext_lib" / "__init__.py", "")
    write(root / "ext_lib" / "rows" / "__init__.py", "")
    write(root / "ext_lib" / "rows" / "buttons.py", "def shout():\n    return 1\n\n\ndef unused():\n    return 2\n")
    write(root / "ext_lib" / "helpers.py", textwrap.dedent("""
        class Builder:
            def build(self):
                return self.part()

            def part(self):
                return 3
    """))
    write(root / "builders.py", textwrap.dedent("""
        import ext_lib.rows.buttons
        from ext_lib import helpers
        from ext_lib.helpers import Builder


        def through_submodules():
            return ext_lib.rows.buttons.shout()


        def through_a_class():
            return Builder().build()


        def through_a_module():
            return helpers.Builder


        def alone():
            return len([])
    """))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in [name for name in sys.modules if name.split(".")[0] in {"ext_lib", "builders"}]:
        del sys.modules[name]


def test_a_builder_reaches_what_it_names_through_submodules_classes_and_methods(ext: Path) -> None:
    builders = importlib.import_module("builders")
    buttons = importlib.import_module("ext_lib.rows.buttons")
    helpers = importlib.import_module("ext_lib.helpers")
    within = (os.path.join(str(ext), ""),)
    assert reaches(builders.through_submodules, {id(buttons.shout)}, within)
    assert not reaches(builders.through_submodules, {id(buttons.unused)}, within)
    assert reaches(builders.through_a_class, {id(helpers.Builder.part)}, within), "a method called on self"
    assert reaches(builders.through_a_module, {id(helpers.Builder.build)}, within)
    assert not reaches(builders.alone, {id(buttons.shout), id(helpers.Builder.part)}, within)


def test_code_outside_the_folders_is_not_followed(ext: Path, tmp_path: Path) -> None:
    builders = importlib.import_module("builders")
    buttons = importlib.import_module("ext_lib.rows.buttons")
    elsewhere = (os.path.join(str(tmp_path / "other"), ""),)
    assert not reaches(builders.through_submodules, {id(buttons.shout)}, elsewhere)
    assert reaches(buttons.shout, {id(buttons.shout)}, elsewhere), "the builder itself always counts"
