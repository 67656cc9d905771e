"""How an update in place will go, worked out before anything changes: what the source shows cannot
apply in place is refused here (what only running the new code shows, such as an Enum member that
cannot join, is refused by its step, and rolled back). The difference codediff.py finds becomes code
to run in the module's namespace, with steps standing in where a definition is updated rather than
run again: a changed function's def is decorated by the step that gives its new code to the old
function object; a changed class's statement is a call of the step that runs the changed part of
its body into the class (each class body planned the same way, recursively). What the steps do is
updatesteps.py's.
"""
from __future__ import annotations

import abc
import ast
import copy
import enum
import types
from collections.abc import Callable
from typing import Any

from .codediff import Pair, ScopeDiff, Statement, Version, class_header_changes, diff_versions, is_future_import
from .updatesteps import MISSING, Change, ClassStep, ObjectUpdater, Refused, Scope

HELPER = "__hot_reload_update__"  # the steps' list, in the module's namespace while an update runs
_PLAIN_METACLASSES = (type, abc.ABCMeta)


class UpdatePlan:
    """The code an update runs (`top_code`, with `steps` in the namespace as HELPER), and what it
    does first: the names the module loses, whether its docstring goes, which unchanged
    definitions moved."""

    def __init__(self, module: types.ModuleType, old: Version, new: Version, updater: ObjectUpdater) -> None:
        self.old, self.new = old, new
        self.path = new.filename
        self.flags = new.future_flags
        self.top = Scope(module, str(module.__dict__.get("__name__")), (), module.__dict__)
        self.updater = updater
        self.index = updater.index
        self.changes, self.notes = updater.changes, updater.notes  # the report's lists
        self.steps: list[Callable[..., Any]] = []
        self.moved: list[tuple[Statement, int]] = []  # unchanged definitions and how far their lines moved
        self.top_code: types.CodeType | None = None
        self.top_removals: list[str] = []
        self.clear_doc = False

    def make(self) -> None:
        self.new.check_future_imports()
        if self.old.future_flags != self.new.future_flags:
            raise Refused(f"{self.top.qualname}: its `from __future__` imports changed, which changes how the whole "
                          "file compiles")
        diff = diff_versions(self.old, self.new)
        self.top_removals, self.clear_doc = self._removals(self.top, diff)
        body = self._body(self.top, diff)
        if body:
            self.top_code = self._compile((), body)

    def _body(self, scope: Scope, diff: ScopeDiff, skip: frozenset[int] = frozenset()) -> list[ast.stmt]:
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
            if isinstance(item, Pair) and statement.kind == "function" and item.decorators_changed:
                body += self._run_again(scope, statement, diff, self._redefine_step(scope, item))
                continue
            step = self._function_step(scope, item) if isinstance(item, Pair) and statement.kind == "function" else None
            body += [step] if step is not None else self._run_again(scope, statement, diff)
        return body

    def _run_again(self, scope: Scope, statement: Statement, diff: ScopeDiff,
                   node: ast.stmt | None = None) -> list[ast.stmt]:
        """`statement` (or `node`, what stands for it) to run as it is. A name that an unchanged
        statement further down binds as well keeps its value, as it would in a fresh run (an
        edited @overload stub must not leave the name holding typing's placeholder)."""
        node = node or statement.placed()
        later = frozenset().union(*(pair.new.binds for pair in diff.unchanged
                                    if pair.new.position > statement.position))
        shadowed = sorted(statement.binds & later)
        if not shadowed:
            return [node]
        saved: dict[str, Any] = {}

        def save() -> None:
            saved.update({name: scope.namespace.get(name, MISSING) for name in shadowed})

        def put_back() -> None:
            for name, value in saved.items():
                if value is MISSING:
                    scope.namespace.pop(name, None)
                else:
                    scope.namespace[name] = value
        return [self._step_statement(save, node), node, self._step_statement(put_back, node)]

    def _step_statement(self, step: Callable[[], Any], where: ast.stmt) -> ast.stmt:
        """A statement that calls `step`, placed at `where`'s line."""
        return ast.copy_location(ast.Expr(_step_call(self._add_step(step), where.lineno, call=True)), where)

    def _function_step(self, scope: Scope, pair: Pair) -> ast.stmt | None:
        """The changed definition, decorated by the step that updates the old function in place;
        None when the definition must run again instead."""
        node = pair.new.placed()
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        olds = self.index.functions_at(pair.old.name, pair.old.first_line)
        if not olds:
            self.notes.append(f"{scope.qualname}.{node.name}: the loaded object holds no function this file defined "
                              "there (a decorator that returns something else?); its definition ran again, "
                              "decorators included, and code holding the old one keeps it")
            return None

        def keep_binding(new: types.FunctionType) -> Any:
            self.updater.patch(scope, olds, new)
            current = scope.namespace.get(node.name, MISSING)
            return new if current is MISSING else current
        updated = copy.copy(node)
        updated.decorator_list = [_step_call(self._add_step(keep_binding), pair.new.first_line)]
        return updated

    def _redefine_step(self, scope: Scope, pair: Pair) -> ast.stmt:
        """A definition whose decorators changed runs again, as a fresh import would make it; the
        step, as its outermost decorator, gets what the new decorators made and has the updater
        put it where the module held the old object, the old function forwarding to it."""
        node = pair.new.placed()
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        qualname = f"{scope.qualname}.{node.name}"
        olds = self.index.functions_at(pair.old.name, pair.old.first_line)

        def redefine(made: Any) -> Any:
            self.updater.redefine(scope, qualname, scope.current(node.name), made, olds)
            return made
        updated = copy.copy(node)
        updated.decorator_list = [_step_call(self._add_step(redefine), pair.new.first_line), *node.decorator_list]
        return updated

    def _class_step(self, parent: Scope, pair: Pair) -> ast.stmt:
        old, new = pair.old.node, pair.new.placed()
        assert isinstance(old, ast.ClassDef) and isinstance(new, ast.ClassDef) and pair.body is not None
        qualname = f"{parent.qualname}.{new.name}"
        path = (*parent.path, new)
        cls = self._loaded_class(parent, path, qualname)
        body = pair.body
        touched = [*body.removed, *body.added, *(side for p in body.changed for side in (p.old, p.new))]
        _refuse_shape_change(qualname, cls, old, new, touched)
        scope = Scope(cls, qualname, path, {})
        members = frozenset()
        enum_body = None
        if isinstance(cls, enum.EnumMeta):
            members = frozenset(id(s) for s in [*body.old, *body.new] if _is_member_statement(s))
            if any(id(statement) in members for statement in touched):
                enum_body = self._compile(path, new.body)
        removals, clear_doc = self._removals(scope, body, members)
        code = self._compile(path, self._body(scope, body, members))
        step = ClassStep(scope, code, removals, clear_doc, enum_body)
        return self._step_statement(lambda: self.updater.update_class(step), new)

    def _loaded_class(self, parent: Scope, path: tuple[ast.ClassDef, ...], qualname: str) -> type:
        """The class object this file's class statement at `path` made."""
        cls = parent.current(path[-1].name)
        dotted = ".".join(node.name for node in path)
        if self._defined_here(cls, dotted):
            return cls
        # Replaced by a live file (a subclass, usually): the class it stands for is updated under it.
        found = [candidate for candidate in self.index.classes if candidate.__qualname__ == dotted]
        if len(found) != 1:
            raise Refused(f"{qualname} is no longer the class this file defined there (it holds "
                          f"{type(cls).__name__})")
        self.notes.append(f"{qualname}: the name holds another object now (a live file's replacement?); "
                          "the class this file defined is updated under it")
        return found[0]

    def _defined_here(self, cls: Any, qualname: str) -> bool:
        return isinstance(cls, type) and vars(cls).get("__module__") == self.top.qualname \
            and cls.__qualname__ == qualname

    def _removals(self, scope: Scope, diff: ScopeDiff, skip: frozenset[int] = frozenset()) -> tuple[list[str], bool]:
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

    def _report(self, scope: Scope, statement: Statement, action: str) -> None:
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


def _step_call(index: int, line: int, *, call: bool = False) -> ast.expr:
    """`__hot_reload_update__[index]` (called when `call`), placed at `line`."""
    node: ast.expr = ast.Subscript(ast.Name(HELPER, ast.Load()), ast.Constant(index), ast.Load())
    if call:
        node = ast.Call(node, [], [])
    for part in ast.walk(node):
        part.lineno = part.end_lineno = line
        part.col_offset = part.end_col_offset = 0
    return node


def _refuse_shape_change(qualname: str, cls: type, old: ast.ClassDef, new: ast.ClassDef,
                         touched: list[Statement]) -> None:
    """Refuse what a class cannot take in place: a changed header (bases, metaclass, decorators),
    `__slots__`, or the fields of a class made from its fields. `touched`: its body's statements
    that changed, were added or were removed."""
    header = class_header_changes(old, new)
    if header:
        raise Refused(f"{qualname}: its {' and '.join(header)} changed, which a class cannot take in place")
    if any("__slots__" in statement.binds for statement in touched):
        raise Refused(f"{qualname}: its __slots__ changed, which a class cannot take in place")
    fields_owner = _fields_owner(cls)
    if fields_owner and any(isinstance(statement.node, ast.AnnAssign) for statement in touched):
        raise Refused(f"{qualname}: its fields changed, and {fields_owner} made the class from its fields")


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
