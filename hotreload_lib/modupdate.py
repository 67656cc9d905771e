"""Update a loaded module in place from a new version of its source, as one transaction.

Only the difference runs (codediff.py finds it):
- a changed function or method keeps its object: its code becomes the new code (inplace.update_base),
  so `from m import f` copies, bound methods, callback lists and existing instances run it, and a
  live file's replace() on it stays on top. It is compiled where it stands: a method inside a class
  of the same name (name mangling, and a `__class__` cell that holds the real class, so
  zero-argument `super()` works), with the module's `from __future__` flags; its defaults are
  evaluated in its own scope (a class body sees the class's attributes). Its decorators do not run
  again: they keep working around the new code. Functions the module holds that a changed function
  made (a decorator's wrappers, a factory's closures) get the new code of their part too;
- a class keeps its identity; its body is compared the same way and what changed is set on it;
  an Enum keeps its members and gains the new ones;
- a changed or added statement that is not a definition runs again in the module's namespace, in
  file order; an unchanged one never runs again; a removed definition's name is deleted;
- a definition runs again as a whole (decorators included), rebinding its name while code that
  held the old object keeps it, when its decorators changed, when the module holds no function of
  it to update (a decorator that returns another kind of object), and when it sits inside another
  statement (an `if` or `try` block is one statement).

What a class cannot take in place (its bases, metaclass, decorators, `__slots__`, the fields of a
dataclass, NamedTuple or metaclass-built class) is refused, and the module is left as it was. A
syntax error, or a statement that fails, rolls everything back: namespace, class dicts, Enum
members and functions' code. What a statement did to other objects before it failed (an item
appended to a list elsewhere) cannot be rolled back.

What to patch is found through the module's namespace and the dicts of the classes it defines
(following decorators' `__wrapped__`, closures, properties, singledispatch registries), never by
walking the heap. Limits that follow: a default value is evaluated when its def changes, not when
a constant it names does; a removed singledispatch overload stays registered; when an Enum's
members change, its whole body runs once more to make them.
"""
from __future__ import annotations

import abc
import ast
import contextlib
import copy
import enum
import functools
import logging
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .codediff import (
    DOC,
    Pair,
    ScopeDiff,
    Statement,
    Version,
    class_header_changes,
    diff_versions,
    is_future_import,
    parse,
)
from .events import ErrorInfo
from .inplace import clone_function, own_function, update_base
from .runner import error_info

HELPER = "__hot_reload_update__"  # the steps' list, in the module's namespace while an update runs
_BOOKKEEPING = frozenset({"__module__", "__qualname__", "__classcell__"})
_IMPLICIT_CLASSMETHODS = frozenset({"__init_subclass__", "__class_getitem__"})
_PLAIN_METACLASSES = (type, abc.ABCMeta)
_MISSING = object()
Status = Literal["ok", "refused", "error"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One thing an update changed. kind: function, method, class, value (a name bound by another
    statement), statement (one that binds no name: named `module:line`), member (of an Enum).
    action: updated, added, removed."""

    name: str
    kind: str
    action: str


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


class Refused(Exception):
    """The new version cannot be applied to the loaded module in place."""


def update_module(module: types.ModuleType, old: Version | str, new: Version | str) -> UpdateResult:
    """Update `module` in place from the version of its source it was last loaded or updated from
    (`old`) to `new`. All or nothing: unless the result is ok, the module is as it was."""
    started = time.perf_counter()
    name = str(module.__dict__.get("__name__", "?"))
    path = str(module.__dict__.get("__file__") or f"<{name}>")
    try:
        old_version = old if isinstance(old, Version) else parse(old, path)
    except SyntaxError as error:
        return UpdateResult("refused", name, reason=f"the source remembered for {name} does not parse (line "
                            f"{error.lineno}: {error.msg}); it is not the version the module was loaded from",
                            duration_ms=_elapsed(started))
    try:
        new_version = new if isinstance(new, Version) else parse(new, path)
        update = _Update(module, old_version, new_version)
        update.plan()
        update.apply()
    except Refused as refusal:
        return UpdateResult("refused", name, reason=str(refusal), duration_ms=_elapsed(started))
    except BaseException as error:  # noqa: BLE001 - the module's own code may raise anything, SystemExit too
        error = error.with_traceback(_without_engine_frames(error.__traceback__))
        return UpdateResult("error", name, error=error_info(error, path), duration_ms=_elapsed(started))
    updated = list({id(func): func for func in update.updated}.values())
    return UpdateResult("ok", name, update.changes, updated, update.notes, duration_ms=_elapsed(started))


@dataclass(eq=False)
class _Scope:
    """A module or class body being updated."""

    owner: types.ModuleType | type
    qualname: str  # for what is reported: `pkg.mod`, `pkg.mod.Outer.Inner`
    path: tuple[ast.ClassDef, ...]  # the new version's class statements down to this class; () for the module
    namespace: dict[str, Any]  # where its statements run (a class body's is made when its step runs)

    @property
    def is_class(self) -> bool:
        return bool(self.path)

    def current(self, name: str) -> Any:
        return vars(self.owner).get(name, _MISSING)


@dataclass(eq=False)
class _ClassStep:
    scope: _Scope
    code: types.CodeType  # the changed part of its body
    removals: list[str]
    clear_doc: bool
    enum_body: types.CodeType | None  # its whole new body, when an Enum's members changed


class _Update:
    def __init__(self, module: types.ModuleType, old: Version, new: Version) -> None:
        self.module = module
        self.namespace = module.__dict__
        self.old, self.new = old, new
        self.path = new.filename
        self.flags = new.future_flags
        self.top = _Scope(module, str(self.namespace.get("__name__")), (), self.namespace)
        self.changes: list[Change] = []
        self.notes: list[str] = []
        self.updated: list[types.FunctionType] = []
        self.undo: list[Callable[[], None]] = []
        self.steps: list[Callable[..., Any]] = []
        self.moved: list[tuple[Statement, int]] = []  # unchanged definitions and how far their lines moved
        self.index = _Index(self.namespace, self.top.qualname, self.path)
        self.top_code: types.CodeType | None = None
        self.top_removals: list[str] = []
        self.clear_doc = False

    # -- planning: everything that can be refused is refused before anything changes -----------
    def plan(self) -> None:
        self.new.check_future_imports()
        if self.old.future_flags != self.new.future_flags:
            raise Refused(f"{self.top.qualname}: its `from __future__` imports changed, which changes how the whole "
                          "file compiles; Reload UI (or restart) to apply")
        diff = diff_versions(self.old, self.new)
        self.top_removals, self.clear_doc = self._removals(self.top, diff)
        body = self._body(self.top, diff)
        if body:
            self.top_code = self._compile((), body)

    def _body(self, scope: _Scope, diff: ScopeDiff, skip: frozenset[int] = frozenset()) -> list[ast.stmt]:
        """The statements to run for a scope: what changed or is new, in file order, with steps
        standing in where a definition is updated rather than run."""
        self._note_moves(diff)
        body: list[ast.stmt] = []
        for item in diff.to_apply():
            statement = item.new if isinstance(item, Pair) else item
            # A string left that is no docstring would compile as one: it is inert, and skipped.
            if id(statement) in skip or is_future_import(statement.node) or statement.is_inert:
                continue
            if isinstance(item, Pair) and statement.kind == "class":
                body.append(self._class_step(scope, item))
                continue
            self._report(scope, statement, "added" if statement is item else "updated")
            step = self._function_step(scope, item) if isinstance(item, Pair) and statement.kind == "function" else None
            body += [step] if step is not None else self._run_again(scope, statement, diff)
        return body

    def _run_again(self, scope: _Scope, statement: Statement, diff: ScopeDiff) -> list[ast.stmt]:
        """`statement` to run as it is. A name that an unchanged statement further down binds as
        well keeps its value, as it would in a fresh run (an edited @overload stub must not leave
        the name holding typing's placeholder)."""
        node = statement.placed()
        later = frozenset().union(*(pair.new.binds for pair in diff.unchanged
                                    if pair.new.position > statement.position))
        shadowed = sorted(statement.binds & later)
        if not shadowed:
            return [node]
        saved: dict[str, Any] = {}

        def save() -> None:
            saved.update({name: scope.namespace.get(name, _MISSING) for name in shadowed})

        def put_back() -> None:
            for name, value in saved.items():
                if value is _MISSING:
                    scope.namespace.pop(name, None)
                else:
                    scope.namespace[name] = value
        return [self._step_statement(save, node), node, self._step_statement(put_back, node)]

    def _step_statement(self, step: Callable[[], Any], where: ast.stmt) -> ast.stmt:
        """A statement that calls `step`, placed at `where`'s line."""
        return ast.copy_location(ast.Expr(_step_call(self._add_step(step), where.lineno, call=True)), where)

    def _function_step(self, scope: _Scope, pair: Pair) -> ast.stmt | None:
        """The changed definition, decorated by the step that updates the old function in place;
        None when the definition must run again instead."""
        node = pair.new.placed()
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        if pair.decorators_changed:
            # The old function stays as it was: the new decorators may call it another way
            # (a staticmethod turned classmethod), so forwarding it could break its holders.
            self.notes.append(f"{scope.qualname}.{node.name}: its decorators changed, so its definition ran again and "
                              "the name holds the new object; code holding the old function keeps the old code")
            return None
        olds = self.index.functions_at(pair.old.name, pair.old.first_line)
        if not olds:
            self.notes.append(f"{scope.qualname}.{node.name}: the loaded object holds no function this file defined "
                              "there (a decorator that returns something else?); its definition ran again, "
                              "decorators included, and code holding the old one keeps it")
            return None

        def keep_binding(new: types.FunctionType) -> Any:
            self._patch(scope, olds, new)
            current = scope.namespace.get(node.name, _MISSING)
            return new if current is _MISSING else current
        updated = copy.copy(node)
        updated.decorator_list = [_step_call(self._add_step(keep_binding), pair.new.first_line)]
        return updated

    def _class_step(self, parent: _Scope, pair: Pair) -> ast.stmt:
        old, new = pair.old.node, pair.new.placed()
        assert isinstance(old, ast.ClassDef) and isinstance(new, ast.ClassDef) and pair.body is not None
        qualname = f"{parent.qualname}.{new.name}"
        path = (*parent.path, new)
        cls = parent.current(new.name)
        dotted = ".".join(node.name for node in path)
        if not self._defined_here(cls, dotted):
            # Replaced by a live file (a subclass, usually): the class it stands for is updated under it.
            found = [candidate for candidate in self.index.classes if candidate.__qualname__ == dotted]
            if len(found) != 1:
                raise Refused(f"{qualname} is no longer the class this file defined there (it holds "
                              f"{type(cls).__name__}); Reload UI (or restart) to apply")
            cls = found[0]
            self.notes.append(f"{qualname}: the name holds another object now (a live file's replacement?); "
                              "the class this file defined is updated under it")
        header = class_header_changes(old, new)
        if header:
            raise Refused(f"{qualname}: its {' and '.join(header)} changed, which a class cannot take in place; "
                          "Reload UI (or restart) to apply")
        body = pair.body
        touched = [*body.removed, *body.added, *(side for p in body.changed for side in (p.old, p.new))]
        if any("__slots__" in statement.binds for statement in touched):
            raise Refused(f"{qualname}: its __slots__ changed, which a class cannot take in place; Reload UI "
                          "(or restart) to apply")
        fields_owner = _fields_owner(cls)
        if fields_owner and any(isinstance(statement.node, ast.AnnAssign) for statement in touched):
            raise Refused(f"{qualname}: its fields changed, and {fields_owner} made the class from its fields; "
                          "Reload UI (or restart) to apply")
        scope = _Scope(cls, qualname, path, {})
        members = frozenset()
        enum_body = None
        if isinstance(cls, enum.EnumMeta):
            members = frozenset(id(s) for s in [*body.old, *body.new] if _is_member_statement(s))
            if any(id(statement) in members for statement in touched):
                enum_body = self._compile(path, new.body)
        removals, clear_doc = self._removals(scope, body, members)
        code = self._compile(path, self._body(scope, body, members))
        step = _ClassStep(scope, code, removals, clear_doc, enum_body)
        return self._step_statement(lambda: self._update_class(step), new)

    def _defined_here(self, cls: Any, qualname: str) -> bool:
        return isinstance(cls, type) and vars(cls).get("__module__") == self.top.qualname \
            and cls.__qualname__ == qualname

    def _removals(self, scope: _Scope, diff: ScopeDiff, skip: frozenset[int] = frozenset()) -> tuple[list[str], bool]:
        """The names a scope loses (bound only by removed statements), and whether its docstring went."""
        kept = diff.names_bound_by_new()
        names: list[str] = []
        clear_doc = False
        for statement in diff.removed:
            if id(statement) in skip or statement.is_inert:
                continue
            if statement.is_docstring:
                clear_doc = True
                continue
            lost = sorted(statement.binds - kept - {"*"})
            names += lost
            if statement.kind != "statement":
                self._report(scope, statement, "removed")
                if not lost:
                    self.notes.append(f"{scope.qualname}.{statement.name}: removed, but the name is still bound by "
                                      "another definition; what the removed one registered stays registered")
            elif lost:
                self.changes += [Change(f"{scope.qualname}.{name}", "value", "removed") for name in lost]
            elif not statement.binds:
                self.changes.append(Change(f"{scope.qualname}:{statement.first_line}", "statement", "removed"))
                self.notes.append(f"{scope.qualname}: the statement removed from line {statement.first_line} ran "
                                  "before; what it did stays until Reload UI (or restart)")
        return names, clear_doc

    def _note_moves(self, diff: ScopeDiff) -> None:
        for pair in diff.unchanged:
            delta = pair.new.first_line - pair.old.first_line
            if pair.body is not None:
                self._note_moves(pair.body)  # a class whose layout changed: its statements moved apart
            elif delta and pair.old.kind != "statement":
                self.moved.append((pair.old, delta))

    def _report(self, scope: _Scope, statement: Statement, action: str) -> None:
        if statement.kind == "function":
            self.changes.append(Change(f"{scope.qualname}.{statement.name}", "method" if scope.is_class
                                       else "function", action))
        elif statement.kind == "class":
            self.changes.append(Change(f"{scope.qualname}.{statement.name}", "class", action))
        elif statement.binds - {"*"}:
            if isinstance(statement.node, ast.Delete):
                action = "removed"
            self.changes += [Change(f"{scope.qualname}.{name}", "value", action) for name in sorted(statement.binds)]
        else:
            self.changes.append(Change(f"{scope.qualname}:{statement.first_line}", "statement", action))

    def _add_step(self, step: Callable[..., Any]) -> int:
        self.steps.append(step)
        return len(self.steps) - 1

    def _compile(self, path: tuple[ast.ClassDef, ...], body: list[ast.stmt]) -> types.CodeType:
        """Compile `body` as the body of the class at `path` (the module's when empty), so names
        are mangled and qualified as in the file, and methods get the class's `__class__` cell."""
        inner: list[ast.stmt] = body or [ast.Pass(lineno=path[-1].lineno if path else 1, col_offset=0)]
        for class_node in reversed(path):
            wrapper = ast.ClassDef(name=class_node.name, bases=[], keywords=[], body=inner, decorator_list=[])
            inner = [ast.copy_location(wrapper, class_node)]
        tree = ast.fix_missing_locations(ast.Module(body=inner, type_ignores=[]))
        code = compile(tree, self.path, "exec", flags=self.flags, dont_inherit=True)
        for class_node in path:
            code = next(const for const in code.co_consts
                        if isinstance(const, types.CodeType) and const.co_name == class_node.name)
        return code

    # -- applying --------------------------------------------------------------------------------
    def apply(self) -> None:
        snapshot = _Snapshot(self.namespace, self.index.classes)
        try:
            for name in self.top_removals:
                self.namespace.pop(name, None)
            if self.clear_doc:
                self.namespace[DOC] = None
            for statement, delta in self.moved:
                self._shift(statement, delta)
            if self.top_code is not None:
                self.namespace[HELPER] = self.steps
                try:
                    exec(self.top_code, self.namespace)
                finally:
                    self.namespace.pop(HELPER, None)
        except BaseException:
            for undo in reversed(self.undo):
                try:
                    undo()
                except Exception:  # the rest must still be undone
                    log.exception("[Hot Reload] undoing part of a failed update of %s failed", self.top.qualname)
            snapshot.restore()
            raise

    def _patch(self, scope: _Scope, olds: list[types.FunctionType], new: types.FunctionType) -> None:
        """Give each old function object `new`'s code (called in file order, as the def runs)."""
        if isinstance(scope.owner, type):
            _fill_class_cell(new, scope.owner)
        for old in olds:
            before = own_function(old).__code__
            self.undo.append(update_base(old, new))
            self.updated.append(old)
            self._update_closures(before, new.__code__)

    def _update_closures(self, old: types.CodeType, new: types.CodeType) -> None:
        """Functions the module holds that were made from code inside `old` (a decorator's
        wrappers, a factory's closures) get the matching code inside `new`."""
        for old_nested, new_nested in _nested_code_pairs(old, new):
            for func in self.index.made_from(old_nested):
                own = own_function(func)
                if own.__code__.co_freevars != new_nested.co_freevars:
                    self.notes.append(f"{func.__qualname__}: made by the old code, and the new code of its part "
                                      "uses other variables of the enclosing function; it keeps the old code")
                    continue
                self.undo.append(update_base(func, clone_function(own, new_nested)))
                self.updated.append(func)

    def _shift(self, statement: Statement, delta: int) -> None:
        """An unchanged definition moved: its functions' line numbers follow, so tracebacks and
        inspect show the right lines and the next update finds them."""
        if statement.kind == "class":
            for node, moved in statement.inner():
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    self._shift(Statement(node, moved, 0, "", frozenset()), delta)
            return
        for func in self.index.functions_at(statement.name, statement.first_line):
            own = own_function(func)
            before = own.__code__
            shifted = _shifted(before, delta)
            self.undo.append(update_base(func, clone_function(own, shifted)))
            self._update_closures(before, shifted)

    def _update_class(self, step: _ClassStep) -> None:
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
            previous = seed.get(name, _MISSING)
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

    def _update_members(self, step: _ClassStep) -> None:
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
                    raise Refused(f"{step.scope.qualname}.{name}: a new member cannot join the loaded Enum ({error}); "
                                  "Reload UI (or restart) to apply") from None
                member.__objclass__ = cls
                kept[name] = member
                self.changes.append(Change(f"{step.scope.qualname}.{name}", "member", "added"))
                continue
            kept[name] = old
            if old._value_ == member._value_ and type(old._value_) is type(member._value_):
                continue
            if cls._member_type_ is not object:
                raise Refused(f"{step.scope.qualname}.{name}: its value changed, and a member of a "
                              f"{cls._member_type_.__name__} Enum is that value; Reload UI (or restart) to apply")
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


class _Index:
    """The functions a module holds, found through its namespace and the dicts of its classes:
    by (name, first line) of their own code, and by that code. The classes it defines are found
    at once (the snapshot needs them); the functions are sorted out when first asked for."""

    def __init__(self, namespace: dict[str, Any], module_name: str, path: str) -> None:
        self._namespace = namespace
        self._module_name = module_name
        self._path = path
        self._functions: list[types.FunctionType] = []
        self._by_line: dict[tuple[str, int], list[types.FunctionType]] | None = None
        self._by_code: dict[int, tuple[types.CodeType, list[types.FunctionType]]] = {}
        self.classes: list[type] = []
        self._walk(list(namespace.values()))

    def functions_at(self, name: str, first_line: int) -> list[types.FunctionType]:
        return list(self._sorted().get((name, first_line), ()))

    def made_from(self, code: types.CodeType) -> list[types.FunctionType]:
        self._sorted()
        entry = self._by_code.get(id(code))
        return list(entry[1]) if entry is not None and entry[0] is code else []

    def _sorted(self) -> dict[tuple[str, int], list[types.FunctionType]]:
        if self._by_line is None:
            self._by_line = {}
            for func in self._functions:
                code = own_function(func).__code__
                if code.co_filename == self._path:
                    self._by_line.setdefault((code.co_name, code.co_firstlineno), []).append(func)
                    self._by_code.setdefault(id(code), (code, []))[1].append(func)
        return self._by_line

    def _walk(self, stack: list[Any]) -> None:
        seen: set[int] = set()
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
            if self.namespace.get(name, _MISSING) is not value:
                self.namespace[name] = value
        if self.annotations is not None:
            annotations, contents = self.annotations
            annotations.clear()
            annotations.update(contents)
        for cls, saved in self.classes:
            for name in [name for name in vars(cls) if name not in saved]:
                type.__delattr__(cls, name)
            for name, value in saved.items():
                if vars(cls).get(name, _MISSING) is not value:
                    type.__setattr__(cls, name, value)


def _step_call(index: int, line: int, *, call: bool = False) -> ast.expr:
    """`__hot_reload_update__[index]` (called when `call`), placed at `line`."""
    node: ast.expr = ast.Subscript(ast.Name(HELPER, ast.Load()), ast.Constant(index), ast.Load())
    if call:
        node = ast.Call(node, [], [])
    for part in ast.walk(node):
        part.lineno = part.end_lineno = line
        part.col_offset = part.end_col_offset = 0
    return node


def _fill_class_cell(func: types.FunctionType, cls: type) -> None:
    """The `__class__` cell of a method compiled for `cls` (zero-argument super() reads it)."""
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=True):
        if name == "__class__":
            cell.cell_contents = cls


def _cell_contents(func: types.FunctionType) -> list[Any]:
    contents = []
    for cell in func.__closure__ or ():
        with contextlib.suppress(ValueError):  # an empty cell
            contents.append(cell.cell_contents)
    return contents


def _nested_code_pairs(old: types.CodeType, new: types.CodeType) -> list[tuple[types.CodeType, types.CodeType]]:
    """The code objects inside `old` and their counterparts inside `new` (same name, in order)."""
    pairs = []
    news: dict[str, list[types.CodeType]] = {}
    for const in new.co_consts:
        if isinstance(const, types.CodeType):
            news.setdefault(const.co_name, []).append(const)
    for const in old.co_consts:
        if isinstance(const, types.CodeType) and news.get(const.co_name):
            counterpart = news[const.co_name].pop(0)
            pairs.append((const, counterpart))
            pairs += _nested_code_pairs(const, counterpart)
    return pairs


def _shifted(code: types.CodeType, delta: int) -> types.CodeType:
    """`code` with every line moved by `delta` (line tables are relative to the first line)."""
    consts = tuple(_shifted(const, delta) if isinstance(const, types.CodeType) else const for const in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)


def _fields_owner(cls: type) -> str:
    """What made `cls` from its annotated fields ('' when its fields are plain class attributes)."""
    if "__dataclass_fields__" in vars(cls):
        return "@dataclass"
    if "_fields" in vars(cls) and issubclass(cls, tuple):
        return "NamedTuple"
    if not isinstance(cls, enum.EnumMeta) and type(cls) not in _PLAIN_METACLASSES:
        return f"its metaclass {type(cls).__name__}"
    return ""


def _is_member_statement(statement: Statement) -> bool:
    """An Enum body's assignment of a plain name: a member (or an alias of one)."""
    node = statement.node
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return bool(targets) and all(isinstance(target, ast.Name) and not _is_reserved(target.id) for target in targets)


def _is_reserved(name: str) -> bool:
    """_sunder_ and __dunder__ names, which an Enum body does not make members."""
    return len(name) > 2 and name[0] == name[-1] == "_"


def _restore_vars(obj: Any, state: dict[str, Any]) -> None:
    vars(obj).clear()
    vars(obj).update(state)


def _without_engine_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback from the module's own code on: the user reads their file's lines first."""
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__ and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
