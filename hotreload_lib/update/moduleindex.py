"""The functions and classes a loaded module holds, found through its namespace and the dicts of the
classes it defines (following decorators' `__wrapped__`, closures, properties, singledispatch
registries), never by walking the heap: what an update in place patches and snapshots. Closures
the module's functions made and handed to the host (a route handler an `on_app_started` callback
defines) are found through the callables the host says it holds, when first needed."""
from __future__ import annotations

import contextlib
import functools
import logging
import types
from collections.abc import Callable, Iterable
from typing import Any

from ..patch.inplace import own_function

log = logging.getLogger("hot_reload")


class ModuleIndex:
    """The functions a module holds, found through its namespace and the dicts of its classes:
    by (name, first line) of their own code, and by that code. The classes it defines are found
    at once (the snapshot needs them); the functions are sorted out when first asked for.
    `lent()`: the callables the host holds (its routes' endpoints, its callback lists), looked
    through for closures of the module's code when the first one is asked for."""

    def __init__(self, namespace: dict[str, Any], module_name: str, path: str,
                 lent: Callable[[], Iterable[Any]] | None = None) -> None:
        self._namespace = namespace
        self._module_name = module_name
        self._path = path
        self._lent = lent
        self._seen: set[int] = set()
        self._functions: list[types.FunctionType] = []
        self._by_line: dict[tuple[str, int], list[types.FunctionType]] | None = None
        self._by_code: dict[int, tuple[types.CodeType, list[types.FunctionType]]] = {}
        self.classes: list[type] = []
        self._walk(list(namespace.values()))

    def functions_at(self, name: str, first_line: int) -> list[types.FunctionType]:
        return list(self._sorted().get((name, first_line), ()))

    def made_from(self, code: types.CodeType) -> list[types.FunctionType]:
        """The functions running `code` (their own code, under any live file's patch) that the
        module, its classes or the host hold."""
        self._sorted()
        if self._lent is not None:
            lent, self._lent = self._lent, None
            found = len(self._functions)
            try:
                held = list(lent())
            except Exception:  # the host's objects are not ours to fail on: the module's own are still found
                log.warning("[Hot Reload] listing the callables the webui holds failed", exc_info=True)
                held = []
            self._walk(held, classes=False)
            self._sort(self._functions[found:], by_line=False)  # a closure is no definition of the file
        entry = self._by_code.get(id(code))
        return list(entry[1]) if entry is not None and entry[0] is code else []

    def _sorted(self) -> dict[tuple[str, int], list[types.FunctionType]]:
        if self._by_line is None:
            self._by_line = {}
            self._sort(self._functions, by_line=True)
        return self._by_line

    def _sort(self, functions: list[types.FunctionType], *, by_line: bool) -> None:
        for func in functions:
            code = own_function(func).__code__
            if code.co_filename == self._path:
                if by_line and self._by_line is not None:
                    self._by_line.setdefault((code.co_name, code.co_firstlineno), []).append(func)
                self._by_code.setdefault(id(code), (code, []))[1].append(func)

    def _walk(self, stack: list[Any], *, classes: bool = True) -> None:
        """`classes` False: the walk of what the host holds, after the snapshot of the module's
        classes was taken; a class met there is not one to update or snapshot."""
        seen = self._seen
        while stack:
            obj = stack.pop()
            if obj is None or id(obj) in seen or isinstance(obj, types.ModuleType):
                continue
            seen.add(id(obj))
            if isinstance(obj, types.FunctionType):
                if obj.__globals__ is self._namespace:
                    self._functions.append(obj)
                stack += _cell_contents(obj)
                stack.append(obj.__dict__.get("__wrapped__"))
                registry = obj.__dict__.get("registry")  # functools.singledispatch
                if isinstance(registry, types.MappingProxyType):
                    stack += registry.values()
            elif isinstance(obj, type):
                if not classes:
                    continue
                if vars(obj).get("__module__") == self._module_name:
                    self.classes.append(obj)
                    stack += vars(obj).values()
                else:
                    stack += obj.__bases__  # a subclass made elsewhere (a live file's) of a class made here
            elif isinstance(obj, (types.MethodType, staticmethod, classmethod)):
                stack.append(obj.__func__)
            elif isinstance(obj, property):
                stack += [obj.fget, obj.fset, obj.fdel]
            elif isinstance(obj, (functools.partial, functools.partialmethod, functools.cached_property)):
                stack.append(obj.func)
            elif isinstance(obj, functools.singledispatchmethod):
                stack += [obj.func, obj.dispatcher]
            else:
                # A decorator's object (lru_cache): only its own __dict__, never a __getattr__ of it.
                with contextlib.suppress(Exception):
                    own = object.__getattribute__(obj, "__dict__")
                    if isinstance(own, dict):
                        stack.append(own.get("__wrapped__"))


def _cell_contents(func: types.FunctionType) -> list[Any]:
    contents = []
    for cell in func.__closure__ or ():
        with contextlib.suppress(ValueError):  # an empty cell
            contents.append(cell.cell_contents)
    return contents
