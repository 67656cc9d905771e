"""What changed between two versions of a module's source, statement by statement.

A module body, and each class body in it, is a list of top-level statements. A statement's identity
is its AST without positions, so moving a definition, or editing comments and blank lines, is no
change. Unchanged statements pair first (by their text, then by their AST); definitions left over
pair with their old version by name (and, for several of one name, by decorators and parameters:
a property's getter and setter, singledispatch's `_` overloads); other statements by the names they
bind. A changed class gets the same comparison of its body.

Parsing is most of the cost (a few ms for 1000 lines), so a new version is parsed from the old one:
only the lines between the unchanged start and end of the file, widened to whole top-level
statements; the statements around them are the old version's, their lines moved.

Pure syntax: nothing here looks at the loaded module (modupdate.py applies the difference).
"""
from __future__ import annotations
import __future__

import ast
import copy
import io
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["function", "class", "statement"]
DOC = "__doc__"
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NEW_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
Placed = tuple[ast.stmt, int]  # a statement's node and how many lines it moved since it was parsed


@dataclass(eq=False)
class Version:
    """One version of a module's source: its lines and its top-level statements."""

    text: str
    filename: str
    lines: list[str]
    body: list[Placed]

    @property
    def future_flags(self) -> int:
        """The compiler flags of the file's `from __future__` imports."""
        flags = 0
        for node, _ in self.body:
            if is_future_import(node):
                for alias in node.names:
                    feature = getattr(__future__, alias.name, None)
                    flags |= getattr(feature, "compiler_flag", 0)
        return flags

    def check_future_imports(self) -> None:
        """Raise the SyntaxError compiling the file would: a `from __future__` import after other
        statements (ast.parse accepts it; only the compiler refuses)."""
        leading = True
        for position, (node, moved) in enumerate(self.body):
            if is_future_import(node):
                if not leading:
                    line = node.lineno + moved
                    raise SyntaxError("from __future__ imports must occur at the beginning of the file",
                                      (self.filename, line, node.col_offset + 1, self.lines[line - 1]))
            elif not (position == 0 and _is_string(node)):
                leading = False


def parse(text: str, filename: str) -> Version:
    """Parse `text` (raises SyntaxError with the file and line)."""
    return Version(text, filename, _lines(text), [(node, 0) for node in ast.parse(text, filename).body])


def reparse(previous: Version, text: str) -> Version:
    """Parse `text`, a new version of `previous`'s file, reusing what did not change."""
    lines = _lines(text)
    old_lines = previous.lines
    limit = min(len(lines), len(old_lines))
    start = 0
    while start < limit and lines[start] == old_lines[start]:
        start += 1
    if start == len(lines) == len(old_lines):
        return Version(text, previous.filename, lines, list(previous.body))
    end = 0  # lines equal at the end, not overlapping the equal start
    while end < limit - start and lines[-1 - end] == old_lines[-1 - end]:
        end += 1
    delta = len(lines) - len(old_lines)
    # Old statements entirely before the first changed line, or after the last, stay as they were.
    first_changed, last_changed = start + 1, len(old_lines) - end  # 1-based lines of the old file
    before = [(node, moved) for node, moved in previous.body if _last_line(node, moved) < first_changed]
    after = [(node, moved) for node, moved in previous.body if _first_line(node, moved) > last_changed]
    region_start = (_last_line(*before[-1]) + 1) if before else 1
    region_end = (_first_line(*after[0]) - 1 + delta) if after else len(lines)
    # Empty lines in front give the region's nodes their line numbers in the file (cheaper than
    # renumbering every node afterwards).
    padded = "\n" * (region_start - 1) + "".join(lines[region_start - 1:region_end])
    try:
        region = ast.parse(padded, previous.filename)
    except SyntaxError:
        return parse(text, previous.filename)  # the whole file reports the error, at the right line
    body = [*before, *((node, 0) for node in region.body), *((node, moved + delta) for node, moved in after)]
    return Version(text, previous.filename, lines, body)


@dataclass(eq=False)
class Statement:
    """One top-level statement of a module or class body."""

    node: ast.stmt
    moved: int  # lines it moved since its node was parsed: its lines in this version are the node's plus this
    position: int  # index in its body
    text: str  # the statement's exact source text, decorators included
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
        return _first_line(self.node, self.moved)

    @property
    def identity(self) -> str | None:
        """The AST without positions; None for a class, whose body is compared statement by
        statement instead (dumping a whole class costs more than the rest of an update)."""
        if self.kind == "class":
            return None
        if self._dump is None:
            self._dump = ast.dump(self.node)
        return self._dump

    @property
    def is_docstring(self) -> bool:
        return self.position == 0 and _is_string(self.node)

    @property
    def is_inert(self) -> bool:
        """`pass`, `...` or a string that is no docstring: running it does nothing."""
        node = self.node
        return isinstance(node, ast.Pass) or (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and not self.is_docstring)

    def placed(self) -> ast.stmt:
        """The node at this version's lines (a moved copy for a node parsed with an older version)."""
        if not self.moved:
            return self.node
        return ast.increment_lineno(copy.deepcopy(self.node), self.moved)

    def inner(self) -> list[Placed]:
        """A class statement's body."""
        return [(node, self.moved) for node in getattr(self.node, "body", [])]


@dataclass(eq=False)
class Pair:
    """A statement in the old version and its counterpart in the new one."""

    old: Statement
    new: Statement
    body: ScopeDiff | None = None  # a class compared statement by statement: the difference of its body

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
    return diff_bodies(old, old.body, new, new.body)


def diff_bodies(old_version: Version, old_body: list[Placed], new_version: Version,
                new_body: list[Placed]) -> ScopeDiff:
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
                pair.body = diff_bodies(old_version, old.inner(), new_version, new.inner())
                if pair.body.is_empty and not class_header_changes(old.node, new.node):
                    diff.unchanged.append(pair)  # only comments or layout changed in it
                    continue
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


def _statements(version: Version, body: list[Placed]) -> list[Statement]:
    statements = []
    for position, (node, moved) in enumerate(body):
        binds = bound_names(node)
        if position == 0 and _is_string(node):
            binds = frozenset({DOC})
        statements.append(Statement(node, moved, position, _source_text(version.lines, node, moved), binds))
    return statements


def _source_text(lines: list[str], node: ast.stmt, moved: int) -> str:
    """From the first decorator on (its `@` stands where the `def` does): a definition whose
    decorators changed is a changed statement."""
    first, last = _first_line(node, moved) - 1, (node.end_lineno or node.lineno) - 1 + moved
    if first == last:
        return lines[first][node.col_offset:node.end_col_offset]
    return lines[first][node.col_offset:] + "".join(lines[first + 1:last]) + lines[last][:node.end_col_offset]


def _first_line(node: ast.stmt, moved: int) -> int:
    decorators = getattr(node, "decorator_list", None)
    return (decorators[0].lineno if decorators else node.lineno) + moved


def _last_line(node: ast.stmt, moved: int) -> int:
    return (node.end_lineno or node.lineno) + moved


def _lines(text: str) -> list[str]:
    """The lines as the tokenizer counts them (str.splitlines also splits at a form feed)."""
    return io.StringIO(text, newline="").readlines()


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


def _identity_key(statement: Statement) -> Hashable | None:
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


def is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _is_string(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
