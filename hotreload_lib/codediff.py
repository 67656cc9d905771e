"""What changed between two versions of a module's source, statement by statement.

A module body, and each class body in it, is a list of top-level statements. A statement's identity
is its AST without positions, so moving a definition, or editing comments and blank lines, is no
change. Unchanged statements pair first (by their text, then by their AST); definitions left over
pair with their old version by name (and, for several of one name, by decorators and parameters:
a property's getter and setter, singledispatch's `_` overloads); other statements by the names they
bind. A changed class gets the same comparison of its body.

Pure syntax: nothing here looks at the loaded module (modupdate.py applies the difference).
"""
from __future__ import annotations
import __future__

import ast
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["function", "class", "statement"]
DOC = "__doc__"
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NEW_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(eq=False)
class Version:
    """One version of a module's source, parsed once (its statements' texts are cut from `lines`)."""

    text: str
    filename: str
    tree: ast.Module
    lines: list[str]

    @property
    def future_flags(self) -> int:
        """The compiler flags of the file's `from __future__` imports."""
        flags = 0
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                for alias in node.names:
                    feature = getattr(__future__, alias.name, None)
                    flags |= getattr(feature, "compiler_flag", 0)
        return flags


def parse(text: str, filename: str) -> Version:
    """Parse `text` (raises SyntaxError with the file and line)."""
    return Version(text, filename, ast.parse(text, filename), text.splitlines(keepends=True))


@dataclass(eq=False)
class Statement:
    """One top-level statement of a module or class body."""

    node: ast.stmt
    position: int  # index in its body
    text: str  # the statement's exact source text
    binds: frozenset[str]  # the names it binds in its scope
    _dump: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> Kind:
        if isinstance(self.node, ast.ClassDef):
            return "class"
        return "function" if isinstance(self.node, _DEFINITIONS) else "statement"

    @property
    def name(self) -> str:
        """The defined name of a function or class ('' for other statements)."""
        return self.node.name if isinstance(self.node, _DEFINITIONS) else ""

    @property
    def first_line(self) -> int:
        """The line a compiled function's `co_firstlineno` gives: its first decorator's."""
        decorators = getattr(self.node, "decorator_list", None)
        return decorators[0].lineno if decorators else self.node.lineno

    @property
    def identity(self) -> str:
        if self._dump is None:
            self._dump = ast.dump(self.node)
        return self._dump

    @property
    def is_docstring(self) -> bool:
        return self.position == 0 and _is_string(self.node)


@dataclass(eq=False)
class Pair:
    """A statement in the old version and its counterpart in the new one."""

    old: Statement
    new: Statement
    body: ScopeDiff | None = None  # a changed class: the difference of its body

    @property
    def decorators_changed(self) -> bool:
        old, new = (getattr(side.node, "decorator_list", []) for side in (self.old, self.new))
        return _dumps(old) != _dumps(new)


@dataclass(eq=False)
class ScopeDiff:
    """The difference of one module or class body."""

    old: list[Statement]
    new: list[Statement]
    unchanged: list[Pair] = field(default_factory=list)
    changed: list[Pair] = field(default_factory=list)
    added: list[Statement] = field(default_factory=list)
    removed: list[Statement] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.changed or self.added or self.removed)

    def to_apply(self) -> list[Pair | Statement]:
        """What the new version runs or defines differently: changed pairs and added statements,
        in the new file's order."""
        items: list[Pair | Statement] = [*self.changed, *self.added]
        return sorted(items, key=lambda item: (item.new if isinstance(item, Pair) else item).position)

    def names_bound_by_new(self) -> frozenset[str]:
        return frozenset().union(*(statement.binds for statement in self.new))


def diff_versions(old: Version, new: Version) -> ScopeDiff:
    return diff_bodies(old, old.tree.body, new, new.tree.body)


def diff_bodies(old_version: Version, old_body: list[ast.stmt], new_version: Version,
                new_body: list[ast.stmt]) -> ScopeDiff:
    diff = ScopeDiff(_statements(old_version, old_body), _statements(new_version, new_body))
    old_left, new_left = list(diff.old), list(diff.new)
    for key in (_text_key, _identity_key):
        for old, new in _pair_by(key, old_left, new_left):
            diff.unchanged.append(Pair(old, new))
    for key in (_signature_key, _decorated_name_key, _name_key, _bound_statement_key, _binds_key):
        for old, new in _pair_by(key, old_left, new_left):
            pair = Pair(old, new)
            if new.kind == "class":
                assert isinstance(old.node, ast.ClassDef) and isinstance(new.node, ast.ClassDef)
                pair.body = diff_bodies(old_version, old.node.body, new_version, new.node.body)
            diff.changed.append(pair)
    diff.added, diff.removed = new_left, old_left
    return diff


def class_header_changes(old: ast.ClassDef, new: ast.ClassDef) -> list[str]:
    """What changed in a class statement apart from its body and name."""
    changes = []
    if _dumps(old.bases) != _dumps(new.bases):
        changes.append("bases")
    if _dumps(old.keywords) != _dumps(new.keywords):
        metaclass = any(keyword.arg == "metaclass" for keyword in [*old.keywords, *new.keywords])
        changes.append("metaclass" if metaclass else "class keywords")
    if _dumps(old.decorator_list) != _dumps(new.decorator_list):
        changes.append("class decorators")
    return changes


def bound_names(node: ast.stmt) -> frozenset[str]:
    """The names a statement binds (or deletes) in the scope it runs in; '*' for a star import."""
    if isinstance(node, _DEFINITIONS):
        return frozenset({node.name})
    names: set[str] = set()
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name) and isinstance(current.ctx, (ast.Store, ast.Del)):
            names.add(current.id)
        elif isinstance(current, (ast.Import, ast.ImportFrom)):
            names.update(alias.asname or alias.name.partition(".")[0] for alias in current.names)
        elif isinstance(current, _DEFINITIONS):
            names.add(current.name)  # its body is another scope
            continue
        elif isinstance(current, _NEW_SCOPES):
            continue
        elif isinstance(current, ast.ExceptHandler) and current.name:
            names.add(current.name)
        elif isinstance(current, (ast.MatchAs, ast.MatchStar)) and current.name:
            names.add(current.name)
        elif isinstance(current, ast.MatchMapping) and current.rest:
            names.add(current.rest)
        stack.extend(ast.iter_child_nodes(current))
    return frozenset(names)


def nested_statements(statement: Statement, version: Version) -> Iterator[Statement]:
    """The statements of a class statement's body (none for anything else)."""
    if isinstance(statement.node, ast.ClassDef):
        yield from _statements(version, statement.node.body)


def _statements(version: Version, body: list[ast.stmt]) -> list[Statement]:
    statements = []
    for position, node in enumerate(body):
        binds = bound_names(node)
        if position == 0 and _is_string(node):
            binds = frozenset({DOC})
        statements.append(Statement(node, position, _source_text(version.lines, node), binds))
    return statements


def _source_text(lines: list[str], node: ast.stmt) -> str:
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    if first == last:
        return lines[first][node.col_offset:node.end_col_offset]
    return lines[first][node.col_offset:] + "".join(lines[first + 1:last]) + lines[last][:node.end_col_offset]


def _pair_by(key: Callable[[Statement], Hashable | None], olds: list[Statement],
             news: list[Statement]) -> list[tuple[Statement, Statement]]:
    """Pair statements of equal key, in order; paired ones leave both lists."""
    waiting: dict[Hashable, list[Statement]] = {}
    for old in reversed(olds):
        value = key(old)
        if value is not None:
            waiting.setdefault(value, []).append(old)
    pairs = []
    for new in news:
        value = key(new)
        candidates = waiting.get(value) if value is not None else None
        if candidates:
            pairs.append((candidates.pop(), new))
    if pairs:
        paired = {id(statement) for pair in pairs for statement in pair}
        olds[:] = [old for old in olds if id(old) not in paired]
        news[:] = [new for new in news if id(new) not in paired]
    return pairs


def _text_key(statement: Statement) -> Hashable:
    return statement.text


def _identity_key(statement: Statement) -> Hashable:
    return statement.identity


def _signature_key(statement: Statement) -> Hashable | None:
    node = statement.node
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    return type(node), node.name, _dumps(node.decorator_list), ast.dump(node.args)


def _decorated_name_key(statement: Statement) -> Hashable | None:
    node = statement.node
    if not isinstance(node, _DEFINITIONS):
        return None
    return isinstance(node, ast.ClassDef), node.name, _dumps(node.decorator_list)


def _name_key(statement: Statement) -> Hashable | None:
    node = statement.node
    return (isinstance(node, ast.ClassDef), node.name) if isinstance(node, _DEFINITIONS) else None


def _bound_statement_key(statement: Statement) -> Hashable | None:
    if statement.kind != "statement":
        return None
    return type(statement.node), statement.binds


def _binds_key(statement: Statement) -> Hashable | None:
    return statement.binds if statement.kind == "statement" else None


def _dumps(nodes: list[ast.expr] | list[ast.keyword]) -> tuple[str, ...]:
    return tuple(ast.dump(node) for node in nodes)


def _is_string(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
