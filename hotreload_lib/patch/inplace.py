"""Patch a Python function object in place, so every alias of it runs new code.

`setattr(module, name, new)` only changes one name; `from m import f` copies, bound methods, route
handlers and callback lists keep the old object. Here the function object itself is changed: its
`__code__` becomes a small trampoline that forwards every call to the current replacement, which
keeps its own globals, defaults and closure. The trampoline takes `*args, **kwargs`, so the old
function's defaults never reach the new code, and its kind (coroutine, generator, async generator)
is the original's, so `inspect.iscoroutinefunction` and friends answer as before.

Thread safety: a call picks its version in one step — the code object it enters, and inside the
trampoline one read of `Dispatcher.target` — so it runs exactly one version from start to end. A
call already running keeps the code it started with. A generator or coroutine object made before
the patch keeps the old code to its end; one made by the patched function runs the version that is
current when it first runs (its first `next()`/`send()`/`await`).
"""
from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import logging
import threading
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .pristine import BUILTINS

__builtins__ = BUILTINS  # a live file that replaces a builtin never reaches this code (pristine.py)

DISPATCH_PLACEHOLDER = "__hot_reload_dispatch__"
_NO_SIGNATURE = object()

# Each body tells the dispatcher of an exception that leaves the replacement (the user hears of it:
# the webui's own message is often a bare "Error") and re-raises it unchanged.
_REPORTED = (
    "    except Exception as error:\n"
    f"        {DISPATCH_PLACEHOLDER!r}.failed(error)\n"
    "        raise\n"
)
_TEMPLATE_BODIES = {
    "function": (
        "def trampoline(*args, **kwargs):\n"
        "{touch}"
        "    try:\n"
        f"        return {DISPATCH_PLACEHOLDER!r}.target(*args, **kwargs)\n"
        + _REPORTED
    ),
    "coroutine": (
        "async def trampoline(*args, **kwargs):\n"
        "{touch}"
        "    try:\n"
        f"        return await {DISPATCH_PLACEHOLDER!r}.call_async(*args, **kwargs)\n"
        + _REPORTED
    ),
    "generator": (
        "def trampoline(*args, **kwargs):\n"
        "{touch}"
        "    try:\n"
        f"        return (yield from {DISPATCH_PLACEHOLDER!r}.target(*args, **kwargs))\n"
        + _REPORTED
    ),
    # `async for` would neither pass asend()/athrow() through nor close the inner generator when
    # the consumer stops early (a client disconnects from a stream): delegate by hand instead.
    "async_generator": (
        "async def trampoline(*args, **kwargs):\n"
        "{touch}"
        f"    inner = {DISPATCH_PLACEHOLDER!r}.target(*args, **kwargs)\n"
        "    try:\n"
        "        value = await inner.__anext__()\n"
        "        while True:\n"
        "            try:\n"
        "                sent = yield value\n"
        "            except GeneratorExit:\n"
        "                await inner.aclose()\n"
        "                raise\n"
        "            except BaseException as error:\n"
        "                value = await inner.athrow(error)\n"
        "            else:\n"
        "                value = await (inner.__anext__() if sent is None else inner.asend(sent))\n"
        "    except StopAsyncIteration:\n"
        "        return\n"
        + _REPORTED
    ),
}
_template_cache: dict[tuple[str, int], types.CodeType] = {}
_template_lock = threading.Lock()


class Dispatcher:
    """The object a trampoline calls through; `target` is swapped atomically.

    It also remembers the code the function had before it was patched, so a later patch (from
    another registry) that finds this trampoline at rest can put the real original back.
    """

    __slots__ = ("on_error", "original", "original_code", "target")

    def __init__(self, original: types.FunctionType, original_code: types.CodeType) -> None:
        self.original = original
        self.original_code = original_code
        self.target: Callable[..., Any] = original
        # Told of an exception raised by the target while it is a replacement (not the original).
        self.on_error: Callable[[BaseException], None] | None = None

    def failed(self, error: BaseException) -> None:
        report = self.on_error
        if report is None or self.target is self.original:
            return
        try:
            report(error)
        except Exception:  # the caller gets its own exception, whatever the report does
            logging.getLogger("hot_reload").debug("reporting a call's exception failed", exc_info=True)

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
            # Every instruction on one line: with the replacement's first line put in, a traceback
            # shows the forwarding frame at the replacement's `def`.
            tree = ast.parse(outer)
            for node in ast.walk(tree):
                if hasattr(node, "lineno"):
                    node.lineno = node.end_lineno = 1
            namespace: dict[str, Any] = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(tree, __file__, "exec"), namespace)
            _template_cache[key] = namespace["outer"]().__code__
        return _template_cache[key]


def trampoline_code(func: types.FunctionType, dispatcher: Dispatcher, shown_as: types.CodeType) -> types.CodeType:
    """The forwarding code for `func`. It carries the file and first line of `shown_as` (the
    replacement's code), so a traceback's frame for it and `inspect.getsource(func)` point at the
    code that runs instead of at this module."""
    code = _template(function_kind(func), len(func.__code__.co_freevars))
    consts = tuple(dispatcher if const == DISPATCH_PLACEHOLDER else const for const in code.co_consts)
    changes: dict[str, Any] = {
        "co_consts": consts, "co_name": func.__code__.co_name,
        # A @types.coroutine generator must stay awaitable.
        "co_flags": code.co_flags | (func.__code__.co_flags & inspect.CO_ITERABLE_COROUTINE),
        "co_filename": shown_as.co_filename, "co_firstlineno": shown_as.co_firstlineno,
    }
    if hasattr(code, "co_qualname"):
        changes["co_qualname"] = func.__code__.co_qualname
    return code.replace(**changes)


def dispatcher_of(code: types.CodeType) -> Dispatcher | None:
    """The Dispatcher when `code` is a trampoline made here, else None."""
    return next((const for const in code.co_consts if isinstance(const, Dispatcher)), None)


def resting_code(code: types.CodeType) -> types.CodeType:
    """`code`, or the original under it when it is a trampoline whose patch has ended (it forwards
    to its original): such a trampoline is left behind when two registries patch one function and
    the lower one is undone first."""
    dispatcher = dispatcher_of(code)
    while dispatcher is not None and dispatcher.target is dispatcher.original:
        code = dispatcher.original_code
        dispatcher = dispatcher_of(code)
    return code


def clone_function(func: types.FunctionType, code: types.CodeType,
                   closure: tuple[types.CellType, ...] | None = None) -> types.FunctionType:
    """A new function object that runs `code` exactly as `func` ran it before any patch (with
    `closure` in place of its own cells, when given)."""
    cells = func.__closure__ if closure is None else closure
    clone = types.FunctionType(code, func.__globals__, func.__name__, func.__defaults__, cells)
    clone.__kwdefaults__ = func.__kwdefaults__
    clone.__annotations__ = func.__annotations__
    clone.__qualname__ = func.__qualname__
    clone.__doc__ = func.__doc__
    clone.__module__ = func.__module__
    clone.__dict__.update({k: v for k, v in func.__dict__.items() if k != "__signature__"})
    return clone


@dataclass
class Unwrapped:
    """What stands between an attribute and the plain function whose code can be patched."""

    func: types.FunctionType | None
    caches: list[Any] = field(default_factory=list)  # objects with cache_clear(), outermost first
    wrappers: list[Any] = field(default_factory=list)  # the decorator layers passed, outermost first


def unwrap_patchable(obj: Any) -> Unwrapped:
    """The plain function whose code to patch for `obj`, and what wraps it.

    Follows bound methods, staticmethod/classmethod, property getters and `functools.wraps`
    chains (lru_cache, most decorators) down to the innermost Python function, so the decorators
    keep working around the new code.
    """
    found = Unwrapped(None)
    seen: set[int] = set()
    while id(obj) not in seen:
        seen.add(id(obj))
        if hasattr(obj, "cache_clear"):
            found.caches.append(obj)
        if isinstance(obj, (staticmethod, classmethod, types.MethodType)):
            obj = obj.__func__
        elif isinstance(obj, property):
            obj = obj.fget
        elif isinstance(obj, functools.partial):
            return found
        elif getattr(obj, "__wrapped__", None) is not None:
            found.wrappers.append(obj)
            obj = obj.__wrapped__
        elif isinstance(obj, types.FunctionType):
            found.func = obj
            return found
        else:
            return found
    return found


def strip_same_decorators(new: Any, target: Unwrapped) -> Any:
    """`new` without the decorator layers it shares with the target, outermost first.

    The target's decorators stay in place around the patched function, so a replacement written
    with the same decorators (a copy of the original, edited) would run them twice. Only a layer
    that is certainly the same decorator is taken off; anything else stays and runs inside the
    target's decorators. A replacement that wraps the target itself (`@functools.wraps(target)`)
    keeps its wrapper.
    """
    if isinstance(new, (staticmethod, classmethod)):
        new = new.__func__
    if isinstance(new, property):
        new = new.fget
    own = {id(layer) for layer in target.wrappers} | {id(target.func)}
    for layer in target.wrappers:
        inner = getattr(new, "__wrapped__", None)
        if inner is None or id(inner) in own or not _same_decorator(new, layer):
            break
        new = inner
    return new


def _same_decorator(wrapper: Any, other: Any) -> bool:
    """Two wrappers made by the same decorator with the same arguments: the same wrapper code
    (possibly compiled twice) holding equal values, apart from the function each one wraps.
    `torch.no_grad()` and `torch.inference_mode()` share their wrapper code but not its closure."""
    if type(wrapper) is not type(other):
        return False
    if hasattr(wrapper, "cache_parameters"):
        return bool(wrapper.cache_parameters() == other.cache_parameters())
    if not isinstance(wrapper, types.FunctionType):
        return False
    if _code_shape(wrapper.__code__) != _code_shape(other.__code__):
        return False
    wrapped = {id(wrapper.__wrapped__), id(other.__wrapped__)}
    for cell, other_cell in zip(wrapper.__closure__ or (), other.__closure__ or (), strict=True):
        try:
            value, other_value = cell.cell_contents, other_cell.cell_contents
        except ValueError:  # an empty cell
            return False
        if id(value) in wrapped and id(other_value) in wrapped:
            continue
        try:
            if value is not other_value and not bool(value == other_value):
                return False
        except Exception:  # noqa: BLE001 - a value that cannot be compared is not known to be equal
            return False
    return True


def _code_shape(code: types.CodeType) -> tuple[Any, ...]:
    return code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_consts


class InPlacePatch:
    """The state of one patched function: its original code and where its calls go."""

    def __init__(self, func: types.FunctionType) -> None:
        self.func = func
        original_code = resting_code(func.__code__)
        self.original_signature = func.__dict__.get("__signature__", _NO_SIGNATURE)
        self.dispatcher = Dispatcher(clone_function(func, original_code), original_code)
        self.trampoline = trampoline_code(func, self.dispatcher, original_code)

    # Read from the dispatcher: when the function's module is updated in place under this patch,
    # update_base() changes them there, and the patch then ends on the updated code.
    @property
    def original(self) -> types.FunctionType:
        return self.dispatcher.original

    @property
    def original_code(self) -> types.CodeType:
        return self.dispatcher.original_code

    @property
    def ours(self) -> bool:
        """The function runs our original or our trampoline (no other tool changed its code)."""
        code = self.func.__code__
        return code is self.trampoline or resting_code(code) is resting_code(self.original_code)

    def activate(self, target: Callable[..., Any]) -> None:
        try:
            signature: Any = inspect.signature(target)
        except (TypeError, ValueError):
            signature = self._original_parameters()
        # Order matters for callers on other threads: the dispatcher points at the new target
        # before the trampoline can be entered, so no call reaches a stale target through it.
        shown_as = getattr(getattr(target, "__func__", target), "__code__", None)
        trampoline = trampoline_code(self.func, self.dispatcher, shown_as or self.original_code)
        self.dispatcher.target = target
        self._set_signature(signature)
        self.trampoline = trampoline
        self.func.__code__ = trampoline

    def deactivate(self) -> None:
        self.func.__code__ = resting_code(self.original_code)
        self._set_signature(self.original_signature)
        self.dispatcher.target = self.original

    def retire(self) -> None:
        """Another tool's code is on the function now: leave it, and send anything that still
        comes through our trampoline to the original."""
        self.dispatcher.target = self.original

    def _original_parameters(self) -> Any:
        """For a replacement without a signature (a builtin): the original's parameters, rather
        than the trampoline's `(*args, **kwargs)`."""
        if self.original_signature is not _NO_SIGNATURE:
            return self.original_signature
        try:
            return inspect.signature(self.original)
        except (TypeError, ValueError):
            return _NO_SIGNATURE

    def _set_signature(self, signature: Any) -> None:
        if signature is _NO_SIGNATURE:
            self.func.__dict__.pop("__signature__", None)
        else:
            self.func.__signature__ = signature  # type: ignore[attr-defined]


# -- a function's own code changed (its module was updated in place) ---------------------------

class Redirect(Dispatcher):
    """The dispatcher of a function whose own code was updated to code it cannot take directly (the
    free variables differ: a method that newly uses `super()` needs a `__class__` cell), or that a
    new function stands for (its decorators changed, so its definition made another). Unlike a
    patch it never ends: it stands for the function's own code, so a later update retargets it and a
    replace() made later sits on top of it."""

    __slots__ = ("holder",)

    def __init__(self, holder: types.FunctionType, target: types.FunctionType) -> None:
        super().__init__(clone_function(holder, holder.__code__), holder.__code__)
        self.holder = holder  # the function whose code is this trampoline
        self.target = target

    def forward_to(self, target: types.FunctionType) -> None:
        self.target = target
        if dispatcher_of(self.holder.__code__) is not self:
            return  # a live file's patch sits on top now: the signature is that patch's
        with contextlib.suppress(TypeError, ValueError):
            # Callers that read the signature (gradio does, per call) must not see (*args, **kwargs).
            self.holder.__signature__ = inspect.signature(target)  # type: ignore[attr-defined]


@dataclass
class _FunctionState:
    func: types.FunctionType
    code: types.CodeType
    defaults: tuple[Any, ...] | None
    kwdefaults: dict[str, Any] | None
    annotations: dict[str, Any]
    doc: str | None
    signature: Any

    @classmethod
    def of(cls, func: types.FunctionType) -> _FunctionState:
        return cls(func, func.__code__, func.__defaults__, func.__kwdefaults__, func.__annotations__, func.__doc__,
                   func.__dict__.get("__signature__", _NO_SIGNATURE))

    def restore(self) -> None:
        self.func.__code__ = self.code
        self.func.__defaults__ = self.defaults
        self.func.__kwdefaults__ = self.kwdefaults
        self.func.__annotations__ = self.annotations
        self.func.__doc__ = self.doc
        if self.signature is _NO_SIGNATURE:
            self.func.__dict__.pop("__signature__", None)
        else:
            self.func.__signature__ = self.signature  # type: ignore[attr-defined]


def _own_code_holder(func: types.FunctionType) -> tuple[types.FunctionType | Redirect, Dispatcher | None]:
    """Below every live-file patch on `func`: the Redirect that stands for its own code, or the
    function object holding that code (`func` itself, or the lowest patch's clone of it) with the
    patch dispatcher right above it (None when nothing patches `func`)."""
    holder, above = func, None
    while (dispatcher := dispatcher_of(holder.__code__)) is not None:
        if isinstance(dispatcher, Redirect):
            return dispatcher, above
        holder, above = dispatcher.original, dispatcher
    return holder, above


def own_function(func: types.FunctionType) -> types.FunctionType:
    """A function that runs `func`'s own code as its module defined it, under any patch a live file
    put on it: `func` itself when nothing patches it."""
    holder, _ = _own_code_holder(func)
    if isinstance(holder, Redirect):
        target = holder.target
        assert isinstance(target, types.FunctionType)
        return target
    return holder


def update_base(func: types.FunctionType, new: types.FunctionType, *, forward: bool = False) -> Callable[[], None]:
    """Make `new`'s code `func`'s own code, keeping the object (every alias runs it) and any patch
    on it: a live file's replacement stays on top, its `original()` becomes the updated code, and
    when the patch ends the function runs the updated code. Returns the undo.

    The code is swapped when the free variables agree (the function keeps its own closure cells);
    otherwise, or when `forward` (`new` is the object that stands for `func` from now on, and
    later updates change it, not `func`), the function forwards to `new` through a Redirect
    trampoline.
    """
    holder, above = _own_code_holder(func)
    if isinstance(holder, Redirect):
        redirect, previous, state = holder, holder.target, _FunctionState.of(holder.holder)
        redirect.forward_to(new)

        def retarget_back() -> None:
            redirect.target = previous
            state.restore()
        return retarget_back
    saved = [_FunctionState.of(holder)] + ([_FunctionState.of(func)] if holder is not func else [])
    below_code = above.original_code if above is not None else None
    if not forward and holder.__code__.co_freevars == new.__code__.co_freevars:
        holder.__code__ = new.__code__
        for target in (holder, func):
            target.__defaults__ = new.__defaults__
            target.__kwdefaults__ = new.__kwdefaults__
    else:
        redirect = Redirect(holder, new)
        holder.__code__ = trampoline_code(holder, redirect, new.__code__)
        redirect.forward_to(new)
    for target in (holder, func):
        target.__annotations__ = new.__annotations__
        target.__doc__ = new.__doc__
    if above is not None:
        above.original_code = holder.__code__

    def undo() -> None:
        for state in saved:
            state.restore()
        if above is not None and below_code is not None:
            above.original_code = below_code
    return undo
