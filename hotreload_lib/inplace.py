"""Patch a Python function object in place, so every alias of it runs new code.

`setattr(module, name, new)` only changes one name; `from m import f` copies, bound methods, route
handlers and callback lists keep the old object. Here the function object itself is changed: its
`__code__` becomes a small trampoline that forwards every call to the current replacement, which
keeps its own globals, defaults and closure. Only `__code__` (and `__signature__`) change, each in
one attribute assignment, so a call sees either the old code or the new one, never a mix.
"""
from __future__ import annotations

import functools
import inspect
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

DISPATCH_PLACEHOLDER = "__hot_reload_dispatch__"
_NO_SIGNATURE = object()

_TEMPLATE_BODIES = {
    "function": (
        "def trampoline(*args, **kwargs):\n"
        "{touch}"
        f"    return {DISPATCH_PLACEHOLDER!r}.target(*args, **kwargs)\n"
    ),
    "coroutine": (
        "async def trampoline(*args, **kwargs):\n"
        "{touch}"
        f"    return await {DISPATCH_PLACEHOLDER!r}.call_async(*args, **kwargs)\n"
    ),
    "generator": (
        "def trampoline(*args, **kwargs):\n"
        "{touch}"
        f"    return (yield from {DISPATCH_PLACEHOLDER!r}.target(*args, **kwargs))\n"
    ),
    "async_generator": (
        "async def trampoline(*args, **kwargs):\n"
        "{touch}"
        f"    async for item in {DISPATCH_PLACEHOLDER!r}.target(*args, **kwargs):\n"
        "        yield item\n"
    ),
}
_template_cache: dict[tuple[str, int], types.CodeType] = {}
_template_lock = threading.Lock()


class Dispatcher:
    """The object a trampoline calls through; `target` is swapped atomically."""

    __slots__ = ("target",)

    def __init__(self, target: Callable[..., Any]) -> None:
        self.target = target

    async def call_async(self, *args: Any, **kwargs: Any) -> Any:
        result = self.target(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


def function_kind(func: types.FunctionType) -> str:
    flags = func.__code__.co_flags
    if flags & inspect.CO_ASYNC_GENERATOR:
        return "async_generator"
    if flags & inspect.CO_COROUTINE:
        return "coroutine"
    if flags & inspect.CO_GENERATOR:
        return "generator"
    return "function"


def _template(kind: str, free_count: int) -> types.CodeType:
    """Trampoline code with exactly `free_count` free variables.

    CPython only accepts a new `__code__` whose free variables match the function's closure, and
    `__closure__` itself is read-only; the dead reference gives the template the right number of
    cells without ever reading them (a cell may be empty).
    """
    key = (kind, free_count)
    with _template_lock:
        if key not in _template_cache:
            names = [f"cell{i}" for i in range(free_count)]
            touch = f"    if False:\n        {', '.join(names)}\n" if names else ""
            body = _TEMPLATE_BODIES[kind].format(touch=touch)
            outer = "def outer():\n"
            outer += "".join(f"    {name} = None\n" for name in names)
            outer += "".join(f"    {line}\n" for line in body.splitlines())
            outer += "    return trampoline\n"
            namespace: dict[str, Any] = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(outer, __file__, "exec"), namespace)
            _template_cache[key] = namespace["outer"]().__code__
        return _template_cache[key]


def trampoline_code(func: types.FunctionType, dispatcher: Dispatcher) -> types.CodeType:
    code = _template(function_kind(func), len(func.__code__.co_freevars))
    consts = tuple(dispatcher if const == DISPATCH_PLACEHOLDER else const for const in code.co_consts)
    changes: dict[str, Any] = {"co_consts": consts, "co_name": func.__code__.co_name}
    if hasattr(code, "co_qualname"):
        changes["co_qualname"] = func.__code__.co_qualname
    return code.replace(**changes)


def clone_function(func: types.FunctionType, code: types.CodeType) -> types.FunctionType:
    """A new function object that runs `code` exactly as `func` ran it before any patch."""
    clone = types.FunctionType(code, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    clone.__kwdefaults__ = func.__kwdefaults__
    clone.__qualname__ = func.__qualname__
    clone.__doc__ = func.__doc__
    clone.__module__ = func.__module__
    clone.__dict__.update({k: v for k, v in func.__dict__.items() if k != "__signature__"})
    return clone


def unwrap_patchable(obj: Any) -> tuple[types.FunctionType | None, list[Any]]:
    """The plain function whose code to patch for `obj`, and the caches in front of it to clear.

    Follows bound methods, staticmethod/classmethod and `functools.wraps` chains (lru_cache, most
    decorators) down to the innermost Python function, so the decorators keep working around the
    new code.
    """
    caches: list[Any] = []
    seen: set[int] = set()
    while id(obj) not in seen:
        seen.add(id(obj))
        if hasattr(obj, "cache_clear"):
            caches.append(obj)
        if isinstance(obj, (staticmethod, classmethod, types.MethodType)):
            obj = obj.__func__
        elif isinstance(obj, functools.partial):
            return None, caches
        elif getattr(obj, "__wrapped__", None) is not None:
            obj = obj.__wrapped__
        elif isinstance(obj, types.FunctionType):
            return obj, caches
        else:
            return None, caches
    return None, caches


class InPlacePatch:
    """The state of one patched function: its original code and who forwards where.

    Layers are a stack: the top one runs. Removing a layer in the middle keeps the others.
    """

    def __init__(self, func: types.FunctionType) -> None:
        self.func = func
        self.original_code = func.__code__
        self.original_signature = func.__dict__.get("__signature__", _NO_SIGNATURE)
        self.original = clone_function(func, func.__code__)
        self.dispatcher = Dispatcher(self.original)
        self.trampoline = trampoline_code(func, self.dispatcher)

    def activate(self, target: Callable[..., Any]) -> None:
        try:
            signature: Any = inspect.signature(target)
        except (TypeError, ValueError):
            signature = _NO_SIGNATURE
        # Order matters for callers on other threads: the dispatcher points at the new target
        # before the trampoline can be entered, so no call reaches a stale target through it.
        self.dispatcher.target = target
        if signature is not _NO_SIGNATURE:
            self.func.__signature__ = signature  # type: ignore[attr-defined]
        self.func.__code__ = self.trampoline

    def deactivate(self) -> None:
        self.func.__code__ = self.original_code
        if self.original_signature is _NO_SIGNATURE:
            self.func.__dict__.pop("__signature__", None)
        else:
            self.func.__signature__ = self.original_signature  # type: ignore[attr-defined]
        self.dispatcher.target = self.original
