"""Which functions a function may call, read from its code: what an edit of a helper means for the
code that builds a page (an on_ui_tabs callback that calls `build_row()` in the extension's package
builds something else once `build_row` changed).

Read from the names its code (and the code nested in it) uses, looked up where Python would find
them: its module's globals, attributes of the modules and classes it names, and every method of the
classes it names (a method called on an instance is named only by its attribute). It follows only
code whose file lies in the given folders, so a builder's walk never wanders into gradio or the
webui. It may find more than runs (a name on a branch never taken), never less than what is named.
"""
from __future__ import annotations

import os
import types
from collections.abc import Iterator
from typing import Any


def reaches(start: Any, wanted: set[int], within: tuple[str, ...]) -> bool:
    """Whether the function `start` is, or may call, a function whose id is in `wanted`, following
    only code in files under the `within` prefixes (paths ending in a separator)."""
    seen: set[int] = set()
    pending = [start]
    while pending:
        function = _plain(pending.pop())
        if function is None or id(function) in seen:
            continue
        seen.add(id(function))
        if id(function) in wanted:
            return True
        if not function.__code__.co_filename.startswith(within):
            continue
        names = set(_names(function.__code__))
        for name in names:
            pending.extend(_callables(function.__globals__.get(name), names, within))
    return False


def _plain(value: Any) -> types.FunctionType | None:
    value = getattr(value, "__func__", value)  # bound methods, classmethod and staticmethod objects
    while isinstance(getattr(value, "__wrapped__", None), types.FunctionType):
        value = value.__wrapped__
    return value if isinstance(value, types.FunctionType) else None


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _names(constant)


def _callables(value: Any, names: set[str], within: tuple[str, ...], modules_seen: set[int] | None = None) -> list[Any]:
    """What `value`, found under one of `names`, lets the code call: a function; a class's functions;
    a module's attributes named by `names` too, through its submodules (`pkg.sub.build()`)."""
    if isinstance(value, types.ModuleType):
        seen = set() if modules_seen is None else modules_seen
        if id(value) in seen or not _module_within(value, within):
            return []
        seen.add(id(value))
        return [item for name in names for item in _callables(getattr(value, name, None), names, within, seen)]
    if isinstance(value, type):
        # Its own functions say where a class was written (a script's classes have no module in sys.modules).
        members = [_plain(getattr(member, "fget", member)) for klass in value.__mro__ if klass is not object
                   for member in vars(klass).values()]
        return [member for member in members
                if member is not None and member.__code__.co_filename.startswith(within)]
    return [value] if _plain(value) is not None else []


def _module_within(module: types.ModuleType, within: tuple[str, ...]) -> bool:
    """A module of the folders: its file, or (a namespace package has none) one of its folders."""
    places = [module.__dict__.get("__file__"), *(os.path.join(str(folder), "") for folder in
                                                 list(getattr(module, "__path__", None) or []))]
    return any(isinstance(place, str) and place.startswith(within) for place in places)
