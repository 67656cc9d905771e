"""A module for live files to patch, and the "nothing lost" check: after a final restore_all, every
attribute of it `is` its original object and every function runs its original code."""
from __future__ import annotations

import sys
import textwrap
import types
from typing import Any

TARGET_NAME = "hot_reload_robust_target"
TARGET_SOURCE = textwrap.dedent("""
    def greet(name):
        return "hello " + name

    def shout(text):
        return text.upper()

    class Box:
        def size(self):
            return 1

        @staticmethod
        def kind():
            return "box"

    LIMIT = 10
""")


def load_target() -> types.ModuleType:
    module = sys.modules.get(TARGET_NAME)
    if module is None:
        module = types.ModuleType(TARGET_NAME)
        exec(compile(TARGET_SOURCE, f"<{TARGET_NAME}>", "exec"), module.__dict__)
        sys.modules[TARGET_NAME] = module
    return module


Snapshot = dict[str, tuple[Any, Any]]


def snapshot(module: types.ModuleType) -> Snapshot:
    """Every attribute of the module and of its classes: (the object, its function's code if any)."""
    found: Snapshot = {}
    namespaces = [(module.__name__, vars(module))]
    namespaces += [(f"{module.__name__}.{name}", vars(value)) for name, value in vars(module).items()
                   if isinstance(value, type)]
    for label, namespace in namespaces:
        for name, value in namespace.items():
            if name.startswith("__") and name != "__init__":
                continue
            function = getattr(value, "__func__", value)
            code = function.__code__ if isinstance(function, types.FunctionType) else None
            found[f"{label}.{name}"] = (value, code)
    return found


def assert_nothing_lost(module: types.ModuleType, original: Snapshot) -> None:
    now = snapshot(module)
    assert now.keys() == original.keys()
    for key, (value, code) in original.items():
        assert now[key][0] is value, f"{key} is not its original object"
        if code is not None:
            function = getattr(value, "__func__", value)
            assert function.__code__ is code, f"{key} does not run its original code"
            assert "__signature__" not in vars(function), f"{key} kept a replacement's signature"
