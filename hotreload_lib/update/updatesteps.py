"""What an update's steps do to the loaded module's objects while its changed code runs: an old
function takes the new code (and the functions it made, such as a decorator's wrappers, the new
code of their part), an unchanged function that moved takes its new lines, a class's dict takes
what its changed body binds, an Enum its members. Every change to an object that the snapshot of
namespace and class dicts cannot put back keeps its own undo, run backwards if the update fails.

The plan (updateplan.py) decides which steps run; modupdate.py runs them as one transaction.
"""
from __future__ import annotations

import ast
import contextlib
import enum
import functools
import logging
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..patch.inplace import clone_function, own_function, update_base
from .codediff import Statement
from .moduleindex import ModuleIndex

MISSING = object()  # a name a namespace or class dict does not bind
_BOOKKEEPING = frozenset({"__module__", "__qualname__", "__classcell__"})
_IMPLICIT_CLASSMETHODS = frozenset({"__init_subclass__", "__class_getitem__"})
_COMPREHENSIONS = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"})
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One thing an update changed. kind: function, method, class, value (a name bound by another
    statement), statement (one that binds no name: named `module:line`), member (of an Enum).
    action: updated, added, removed."""

    name: str
    kind: str
    action: str


class Refused(Exception):
    """The new version cannot be applied to the loaded module in place."""


@dataclass
class UpdateReport:
    """What an update says it did, filled in by its plan and by its steps as they run."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    updated: list[types.FunctionType] = field(default_factory=list)  # old functions that now run new code


@dataclass(eq=False)
class Scope:
    """A module or class body being updated."""

    owner: types.ModuleType | type
    qualname: str  # for what is reported: `pkg.mod`, `pkg.mod.Outer.Inner`
    path: tuple[ast.ClassDef, ...]  # the new version's class statements down to this class; () for the module
    namespace: dict[str, Any]  # where its statements run (a class body's is made when its step runs)

    @property
    def is_class(self) -> bool:
        return bool(self.path)

    def current(self, name: str) -> Any:
        return vars(self.owner).get(name, MISSING)


@dataclass(eq=False)
class ClassStep:
    scope: Scope
    code: types.CodeType  # the changed part of its body
    removals: list[str]
    clear_doc: bool
    enum_body: types.CodeType | None  # its whole new body, when an Enum's members changed


class ObjectUpdater:
    """Changes the loaded module's objects as the steps call it, keeping an undo for each."""

    def __init__(self, namespace: dict[str, Any], index: ModuleIndex, report: UpdateReport) -> None:
        self.namespace = namespace
        self.index = index
        self.changes, self.notes, self.updated = report.changes, report.notes, report.updated  # the report's lists
        self.undo: list[Callable[[], None]] = []

    def roll_back(self, qualname: str) -> None:
        for undo in reversed(self.undo):
            try:
                undo()
            except Exception:  # the rest must still be undone
                log.exception("[Hot Reload] undoing part of a failed update of %s failed", qualname)

    def patch(self, scope: Scope, olds: list[types.FunctionType], new: types.FunctionType) -> None:
        """Give each old function object `new`'s code (called in file order, as the def runs)."""
        if isinstance(scope.owner, type):
            _fill_class_cell(new, scope.owner)
        for old in olds:
            before = own_function(old).__code__
            self.undo.append(update_base(old, new))
            self.updated.append(old)
            self._update_closures(before, new.__code__, f"{scope.qualname}.{new.__name__}")

    def redefine(self, scope: Scope, qualname: str, old: Any, made: Any, olds: list[types.FunctionType]) -> None:
        """A definition whose decorators changed ran again and made `made`; `old` is what its name
        held. Where the module and its classes held `old`, they hold `made` now, and the old
        function forwards every call to the new one, so a bound method or a callback stored before
        runs it, and later edits of it too. Only when both are called the same way (plain,
        staticmethod, classmethod) and `old` is this definition's (it wraps the function the file
        defined there): a shared object a decorator returned is left alone."""
        old_kind, old_func = _called_as(old)
        new_kind, new_func = _called_as(made)
        why = ""
        if not _made_from(old_func, olds):
            why = "the name held no function this definition made"
        elif old_kind != new_kind:
            why = f"it was {old_kind} and is {new_kind} now, so it would be called another way"
        elif not isinstance(new_func, types.FunctionType):
            why = f"the new decorators made a {type(new_func).__name__}, not a function it can forward to"
        if why:
            self.notes.append(f"{qualname}: its decorators changed, so its definition ran again and the name holds "
                              f"the new object; code holding the old one keeps the old code ({why})")
            return
        assert isinstance(old_func, types.FunctionType) and isinstance(new_func, types.FunctionType)
        self.undo.append(update_base(old_func, new_func, forward=True))
        self.updated.append(old_func)
        for name in [name for name, value in self.namespace.items() if value is old]:
            self.namespace[name] = made
        for cls in self.index.classes:
            for name in [name for name, value in vars(cls).items() if value is old]:
                type.__setattr__(cls, name, made)

    def _update_closures(self, old: types.CodeType, new: types.CodeType, qualname: str = "") -> None:
        """Functions made from code inside `old` (a decorator's wrappers, a factory's closures, a
        route handler an app-started callback defined) that the module, its classes or the host
        hold get the matching code inside `new`. With `qualname` (of the function whose code `old`
        was), a nested function whose code changed and of which none was found is named in a note:
        what holds one elsewhere runs its old code."""
        for old_nested, new_nested in _nested_code_pairs(old, new):
            found = self.index.made_from(old_nested)
            for func in found:
                own = own_function(func)
                if own.__code__.co_freevars != new_nested.co_freevars:
                    self.notes.append(f"{func.__qualname__}: made by the old code, and the new code of its part "
                                      "uses other variables of the enclosing function; it keeps the old code")
                    continue
                self.undo.append(update_base(func, clone_function(own, new_nested)))
                self.updated.append(func)
            name = f"{qualname}.<locals>.{new_nested.co_name}" if qualname and not _runs_at_once(new_nested) else ""
            if name and not found and not _same_code(old_nested, new_nested):
                note = (f"{name}: its code changed, and no function made from the old code was found where the "
                        "module, its classes and the host's routes and callbacks hold them; one held elsewhere "
                        f"keeps the old code until {qualname} runs again")
                if note not in self.notes:
                    self.notes.append(note)
                name = ""  # what it defines inside itself is made again with it
            self._update_closures(old_nested, new_nested, name)

    def shift(self, statement: Statement, delta: int) -> None:
        """An unchanged definition moved: its functions' line numbers follow, so tracebacks and
        inspect show the right lines and the next update finds them."""
        if statement.kind == "class":
            for node, moved in statement.inner():
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    self.shift(Statement(node, moved, 0, "", frozenset()), delta)
            return
        for func in self.index.functions_at(statement.name, statement.first_line):
            own = own_function(func)
            before = own.__code__
            shifted = _shifted(before, delta)
            self.undo.append(update_base(func, clone_function(own, shifted)))
            self._update_closures(before, shifted)

    def update_class(self, step: ClassStep) -> None:
        cls = step.scope.owner
        assert isinstance(cls, type)
        for name in step.removals:
            if name in vars(cls):
                delattr(cls, name)
        if step.clear_doc:
            cls.__doc__ = None
        seed = dict(vars(cls))
        namespace = dict(seed)
        if isinstance(seed.get("__annotations__"), dict):
            namespace["__annotations__"] = dict(seed["__annotations__"])  # the body may add to it
        step.scope.namespace = namespace
        exec(step.code, self.namespace, namespace)
        cell = namespace.pop("__classcell__", None)
        if cell is not None:
            cell.cell_contents = cls
        for name, value in namespace.items():
            previous = seed.get(name, MISSING)
            if name in _BOOKKEEPING or previous is value or (name == "__annotations__" and previous == value):
                continue
            if name in _IMPLICIT_CLASSMETHODS and isinstance(value, types.FunctionType):
                value = classmethod(value)
            elif name == "__new__" and isinstance(value, types.FunctionType):
                value = staticmethod(value)
            setattr(cls, name, value)
            set_name = getattr(type(value), "__set_name__", None)
            if set_name is not None:
                set_name(value, cls, name)
        for name in seed.keys() - namespace.keys():
            delattr(cls, name)
        if step.enum_body is not None:
            self._update_members(step)

    def _update_members(self, step: ClassStep) -> None:
        """An Enum's members: kept ones keep their identity, new ones join, removed ones leave."""
        cls = step.scope.owner
        assert isinstance(cls, enum.EnumMeta) and step.enum_body is not None
        metaclass = type(cls)
        namespace = metaclass.__prepare__(cls.__name__, cls.__bases__)
        exec(step.enum_body, self.namespace, namespace)
        fresh = metaclass(cls.__name__, cls.__bases__, namespace)
        old_members: dict[str, Any] = dict(cls._member_map_)
        kept: dict[str, Any] = {}
        for name in fresh._member_names_:
            member = fresh._member_map_[name]
            old = old_members.get(name)
            if old is None:
                try:
                    member.__class__ = cls
                except TypeError as error:
                    raise Refused(f"{step.scope.qualname}.{name}: a new member cannot join the loaded Enum "
                                  f"({error})") from None
                member.__objclass__ = cls
                kept[name] = member
                self.changes.append(Change(f"{step.scope.qualname}.{name}", "member", "added"))
                continue
            kept[name] = old
            if old._value_ == member._value_ and type(old._value_) is type(member._value_):
                continue
            if cls._member_type_ is not object:
                raise Refused(f"{step.scope.qualname}.{name}: its value changed, and a member of a "
                              f"{cls._member_type_.__name__} Enum is that value")
            state = dict(vars(old))
            self.undo.append(functools.partial(_restore_vars, old, state))
            vars(old).update({key: value for key, value in vars(member).items()
                              if key not in ("_name_", "__objclass__")})
            self.changes.append(Change(f"{step.scope.qualname}.{name}", "member", "updated"))
        for name in old_members.keys() - kept.keys() - fresh._member_map_.keys():
            self.changes.append(Change(f"{step.scope.qualname}.{name}", "member", "removed"))
            if name in vars(cls):
                type.__delattr__(cls, name)
        member_map = {name: kept[fresh._member_map_[name]._name_] for name in fresh._member_map_}
        value_map: dict[Any, Any] = {}
        for member in kept.values():
            with contextlib.suppress(TypeError):  # an unhashable value is looked up by a scan
                value_map.setdefault(member._value_, member)
        # New containers, not changed ones: the snapshot of the class dict holds the old ones.
        type.__setattr__(cls, "_member_map_", member_map)
        type.__setattr__(cls, "_member_names_", list(fresh._member_names_))
        type.__setattr__(cls, "_value2member_map_", value_map)
        for name, member in member_map.items():
            if vars(cls).get(name) is not member and not isinstance(vars(cls).get(name), types.DynamicClassAttribute):
                type.__setattr__(cls, name, member)


def _fill_class_cell(func: types.FunctionType, cls: type) -> None:
    """The `__class__` cell of a method compiled for `cls` (zero-argument super() reads it)."""
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=True):
        if name == "__class__":
            cell.cell_contents = cls


def _called_as(value: Any) -> tuple[str, Any]:
    """How a class or module calls what a name holds, and the callable it calls."""
    if isinstance(value, staticmethod):
        return "a staticmethod", value.__func__
    if isinstance(value, classmethod):
        return "a classmethod", value.__func__
    if isinstance(value, property):
        return "a property", value.fget
    return "a function", value


def _made_from(value: Any, functions: list[types.FunctionType]) -> bool:
    """`value` is one of `functions`, or a function that wraps one of them (`__wrapped__`)."""
    wanted = {id(func) for func in functions}
    seen: set[int] = set()
    while isinstance(value, types.FunctionType) and id(value) not in seen:
        if id(value) in wanted:
            return True
        seen.add(id(value))
        value = value.__dict__.get("__wrapped__")
    return False


def _nested_code_pairs(old: types.CodeType, new: types.CodeType) -> list[tuple[types.CodeType, types.CodeType]]:
    """The code objects right inside `old` and their counterparts inside `new` (same name, in order)."""
    pairs = []
    news: dict[str, list[types.CodeType]] = {}
    for const in new.co_consts:
        if isinstance(const, types.CodeType):
            news.setdefault(const.co_name, []).append(const)
    for const in old.co_consts:
        if isinstance(const, types.CodeType) and news.get(const.co_name):
            pairs.append((const, news[const.co_name].pop(0)))
    return pairs


def _runs_at_once(code: types.CodeType) -> bool:
    """A comprehension's or a class body's code: run where it is made, it makes no function that
    outlives the call."""
    return code.co_name in _COMPREHENSIONS or code.co_names[:2] == ("__name__", "__module__")


def _same_code(old: types.CodeType, new: types.CodeType) -> bool:
    """The same code apart from its lines (code objects' own == compares first lines too)."""
    if (old.co_code, old.co_names, old.co_varnames, old.co_freevars, old.co_cellvars, old.co_flags,
            old.co_argcount, old.co_kwonlyargcount) != (
            new.co_code, new.co_names, new.co_varnames, new.co_freevars, new.co_cellvars, new.co_flags,
            new.co_argcount, new.co_kwonlyargcount) or len(old.co_consts) != len(new.co_consts):
        return False
    for one, other in zip(old.co_consts, new.co_consts, strict=True):
        if isinstance(one, types.CodeType) and isinstance(other, types.CodeType):
            if not _same_code(one, other):
                return False
        elif type(one) is not type(other) or one != other:
            return False
    return True


def _shifted(code: types.CodeType, delta: int) -> types.CodeType:
    """`code` with every line moved by `delta` (line tables are relative to the first line)."""
    consts = tuple(_shifted(const, delta) if isinstance(const, types.CodeType) else const for const in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)


def _restore_vars(obj: Any, state: dict[str, Any]) -> None:
    vars(obj).clear()
    vars(obj).update(state)
