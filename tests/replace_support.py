"""Helpers for the replace() tests: a fresh copy of tests/replace_targets.py per test, and a
module that imported from it by name."""
from __future__ import annotations

import importlib.util
import itertools
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TARGETS_FILE = Path(__file__).with_name("replace_targets.py")
_numbers = itertools.count()


@contextmanager
def fresh_targets() -> Iterator[types.ModuleType]:
    """tests/replace_targets.py loaded as a new module (in sys.modules while in use)."""
    name = f"replace_targets_{next(_numbers)}"
    spec = importlib.util.spec_from_file_location(name, TARGETS_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)
        sys.modules.pop(f"{name}_consumer", None)


def consumer_of(module: types.ModuleType, *names: str) -> types.ModuleType:
    """A module that ran `from <module> import names`, as webui modules import each other's functions."""
    consumer = types.ModuleType(f"{module.__name__}_consumer")
    exec(f"from {module.__name__} import {', '.join(names)}", consumer.__dict__)
    sys.modules[consumer.__name__] = consumer
    return consumer
