"""Update a loaded module in place from a new version of its source, as one transaction.

Only the difference runs (codediff.py finds it):
- a changed function or method keeps its object: its code becomes the new code (inplace.update_base),
  so `from m import f` copies, bound methods, callback lists and existing instances run it, and a
  live file's replace() on it stays on top. It is compiled where it stands: a method inside a class
  of the same name (name mangling, and a `__class__` cell that holds the real class, so
  zero-argument `super()` works), with the module's `from __future__` flags; its defaults are
  evaluated in its own scope (a class body sees the class's attributes). Its decorators do not run
  again: they keep working around the new code. Functions that a changed function made (a
  decorator's wrappers, a factory's closures, route handlers an app-started callback defined) get
  the new code of their part too, where the module, its classes or the host (`held`) hold them; a
  nested function whose code changed and of which none was found there is named in a note;
- a class keeps its identity; its body is compared the same way and what changed is set on it;
  an Enum keeps its members and gains the new ones;
- a changed or added statement that is not a definition runs again in the module's namespace, in
  file order; an unchanged one never runs again; a removed definition's name is deleted;
- a function whose decorators changed (added, removed, other arguments) runs again as a whole, as
  a fresh import would make it: the module's and its classes' names for the old object hold the
  new one, and the old function forwards every call to it, so a bound method or a callback stored
  before runs the new object and follows later edits (unless it was called another way: a
  staticmethod turned classmethod keeps the old code, and a note says so);
- a definition runs again as a whole (decorators included), rebinding its name while code that
  held the old object keeps it, when the module holds no function of it to update (a decorator
  that returns another kind of object), and when it sits inside another statement (an `if` or
  `try` block is one statement).

What a class cannot take in place (its bases, metaclass, decorators, `__slots__`, the fields of a
dataclass, NamedTuple or metaclass-built class) is refused, and the module is left as it was. A
syntax error, or a statement that fails, rolls everything back: namespace, class dicts, Enum
members and functions' code. What a statement did to other objects before it failed (an item
appended to a list elsewhere) cannot be rolled back.

What to patch is found through the module's namespace and the dicts of the classes it defines
(following decorators' `__wrapped__`, closures, properties, singledispatch registries), and the
callables the host holds, never by walking the heap (gc.get_referrers costs ~100 ms per edit on a
webui's heap: bench/update.py). Limits that follow: a default value is evaluated when its def changes, not when
a constant it names does; a removed singledispatch overload stays registered; when an Enum's
members change, its whole body runs once more to make them.

The parts: codediff.py finds the difference; updateplan.py turns it into code to run and steps,
refusing what cannot apply; updatesteps.py is what the steps do to the loaded objects, each change
with its undo; moduleindex.py finds those objects. This module runs a plan as one transaction.
"""
from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..events import ErrorInfo
from ..live.runner import error_info
from . import moduleindex, updateplan, updatesteps
from .codediff import DOC, Version, parse
from .moduleindex import ModuleIndex
from .updateplan import HELPER, UpdatePlan
from .updatesteps import MISSING, Change, ObjectUpdater, Refused, UpdateReport

__all__ = ["Change", "Refused", "UpdateResult", "update_module"]
Status = Literal["ok", "refused", "error"]
_ENGINE_FILES = frozenset({__file__, moduleindex.__file__, updateplan.__file__, updatesteps.__file__})


@dataclass
class UpdateResult:
    status: Status
    module: str
    changed: list[Change] = field(default_factory=list)
    # The function objects that existed before and now run new code, for the host to tell code that
    # builds the page (an on_ui_tabs callback, a Script's ui()) from code that runs per call.
    updated_functions: list[types.FunctionType] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str = ""  # why it was refused
    error: ErrorInfo | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def update_module(module: types.ModuleType, old: Version | str, new: Version | str,
                  held: Callable[[], Iterable[Any]] | None = None) -> UpdateResult:
    """Update `module` in place from the version of its source it was last loaded or updated from
    (`old`) to `new`. All or nothing: unless the result is ok, the module is as it was. `held()`:
    the callables the host holds (its routes' endpoints, its callback lists), where closures that
    the module's functions made are looked for when their code changes."""
    started = time.perf_counter()
    name = str(module.__dict__.get("__name__", "?"))
    path = str(module.__dict__.get("__file__") or f"<{name}>")
    try:
        old_version = old if isinstance(old, Version) else parse(old, path)
    except SyntaxError as error:
        return UpdateResult("refused", name, reason=f"the source remembered for {name} does not parse (line "
                            f"{error.lineno}: {error.msg}); it is not the version the module was loaded from",
                            duration_ms=_elapsed(started))
    report = UpdateReport()
    try:
        new_version = new if isinstance(new, Version) else parse(new, path)
        index = ModuleIndex(module.__dict__, name, new_version.filename, held)
        updater = ObjectUpdater(module.__dict__, index, report)
        plan = UpdatePlan(module, old_version, new_version, updater)
        plan.make()
        _apply(plan, updater)
    except Refused as refusal:
        return UpdateResult("refused", name, reason=str(refusal), duration_ms=_elapsed(started))
    except BaseException as error:  # noqa: BLE001 - the module's own code may raise anything, SystemExit too
        error = error.with_traceback(_without_engine_frames(error.__traceback__))
        return UpdateResult("error", name, error=error_info(error, path), duration_ms=_elapsed(started))
    updated = list({id(func): func for func in report.updated}.values())
    return UpdateResult("ok", name, report.changes, updated, report.notes, duration_ms=_elapsed(started))


def _apply(plan: UpdatePlan, updater: ObjectUpdater) -> None:
    """Run the plan in the module's namespace; on any failure put everything back."""
    namespace = updater.namespace
    snapshot = _Snapshot(namespace, updater.index.classes)
    try:
        for name in plan.top_removals:
            namespace.pop(name, None)
        if plan.clear_doc:
            namespace[DOC] = None
        for statement, delta in plan.moved:
            updater.shift(statement, delta)
        if plan.top_code is not None:
            namespace[HELPER] = plan.steps
            try:
                exec(plan.top_code, namespace)
            finally:
                namespace.pop(HELPER, None)
    except BaseException:
        updater.roll_back(plan.top.qualname)
        snapshot.restore()
        raise


class _Snapshot:
    """The bindings of a module's namespace and of its classes' dicts, to put back on failure."""

    def __init__(self, namespace: dict[str, Any], classes: list[type]) -> None:
        self.namespace = namespace
        self.saved = dict(namespace)
        annotations = namespace.get("__annotations__")
        self.annotations = (annotations, dict(annotations)) if isinstance(annotations, dict) else None
        self.classes = [(cls, dict(vars(cls))) for cls in classes]

    def restore(self) -> None:
        for name in [name for name in self.namespace if name not in self.saved]:
            del self.namespace[name]
        for name, value in self.saved.items():
            if self.namespace.get(name, MISSING) is not value:
                self.namespace[name] = value
        if self.annotations is not None:
            annotations, contents = self.annotations
            annotations.clear()
            annotations.update(contents)
        for cls, saved in self.classes:
            for name in [name for name in vars(cls) if name not in saved]:
                type.__delattr__(cls, name)
            for name, value in saved.items():
                if vars(cls).get(name, MISSING) is not value:
                    type.__setattr__(cls, name, value)


def _without_engine_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback from the module's own code on: the user reads their file's lines first."""
    while tb is not None and tb.tb_frame.f_code.co_filename in _ENGINE_FILES and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
