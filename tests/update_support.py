"""Helpers for the update-in-place tests: a real package written to disk, put on sys.path,
imported for real and tracked (its modules snapshotted when imported, as tracking starts)."""
from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hotreload_lib.update.modupdate import UpdateResult
from hotreload_lib.update.tracked import SourceStore, read_text
from tests.conftest import write

_numbers = itertools.count()


# A base class and a child whose describe() a test edits to call super(): `CHILD_SAYS` is its body.
CHILD_SAYS = 'return "child"'
BASE_AND_CHILD = """
    class Base:
        def describe(self):
            return "base"

    class Child(Base):
        def describe(self):
            return "child"
"""


class TrackedPackage:
    def __init__(self, root: Path) -> None:
        self.name = f"hr_tracked_{next(_numbers)}"
        self.root = root
        self.folder = root / self.name
        self.store = SourceStore()
        write(self.folder / "__init__.py", "")

    def path(self, module: str) -> Path:
        return self.folder / f"{module.replace('.', '/')}.py"

    def write(self, module: str, text: str) -> Path:
        path = self.path(module)
        write(path, textwrap.dedent(text))
        return path

    def load(self, module: str) -> types.ModuleType:
        """Import `package.module` for real and snapshot its source, as tracking does."""
        loaded = importlib.import_module(f"{self.name}.{module}")
        assert self.store.snapshot(loaded)
        return loaded

    def edit(self, module: types.ModuleType, text: str, held: Callable[[], list[Any]] | None = None) -> UpdateResult:
        """Save new text into the module's file, then update the module from that file (`held`:
        the callables a host holds)."""
        path = Path(module.__file__ or "")
        write(path, textwrap.dedent(text))
        return self.store.update(module, read_text(path), held)


@contextmanager
def tracked_package(root: Path) -> Iterator[TrackedPackage]:
    package = TrackedPackage(root)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield package
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == package.name or name.startswith(package.name + ".")]:
            del sys.modules[name]


def load_script(path: Path, text: str) -> types.ModuleType:
    """Execute a file the way the host loads a scripts/*.py: a module named after the file,
    executed from its location and kept out of sys.modules."""
    write(path, textwrap.dedent(text))
    spec = importlib.util.spec_from_file_location(path.name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert path.name not in sys.modules
    return module
