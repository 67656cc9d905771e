"""Property test: any sequence of file runs (good or failing), file deletions, manual replace,
restore, handle.restore and restore_all, over several owners and targets of every kind, leaves
every target behaving as a simple model of layer stacks says; after restore_all every attribute
`is` its original and every function runs its original code, with its original defaults."""
from __future__ import annotations

import itertools
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from hotreload_lib import replace as live_replace
from hotreload_lib.patch.registry import MANUAL_OWNER, PatchRegistry, Replacement, original
from tests.replace_support import consumer_of, fresh_targets

OWNERS = ["a.py", "b.py", "sub/c.py"]
FORMS = ["name", "dotted", "object", "decorator"]
TARGET_KEYS = ["plain", "closed", "cached", "decorated", "gen", "coro", "method", "make", "helper", "size",
               "inherited", "instance", "constant", "builtin"]


class Boom(Exception):
    """A live file that fails half-way."""


@dataclass
class Target:
    """One replaceable thing: where it lives, how to make a version of it, and how to see which
    version runs (through an alias taken before any patch)."""

    key: str
    owner: Any
    name: str
    make: Callable[[str], Any]  # a fresh replacement object returning/holding the tag
    observe: Callable[[], str]  # the tag of what runs now ("orig" for the original)
    falls_back_to: str | None = None  # an inherited name shows the base's version when it has none
    dotted: str | None = None


def _coroutine_result(coroutine: Any) -> Any:
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the coroutine awaited something")


def build_targets(m: types.ModuleType) -> list[Target]:
    consumer = consumer_of(m, "plain", "closed", "cached", "decorated", "gen", "coro")
    widget, own_widget = m.Widget(), m.Widget()
    bound, make, helper = widget.method, m.Widget.make, m.Widget.helper
    handlers = {"plain": consumer.plain}

    def constant_tag() -> str:
        return "orig" if m.CONSTANT == 42 else m.CONSTANT[0]

    def builtin_tag() -> str:
        result = m.builtin_alias("ab")
        return "orig" if result == 2 else result[0]

    def closure_version(tag: str) -> Any:
        def closed(x: Any) -> tuple[Any, ...]:
            return (tag, x)
        return closed

    async def coroutine_version_of(tag: str, x: Any) -> tuple[Any, ...]:
        return (tag, x)

    def generator_version(tag: str) -> Any:
        def gen(n: int) -> Any:
            yield (tag, n)
        return gen

    def function(tag: str) -> Any:
        return lambda *args, **kwargs: (tag, args)

    def method(tag: str) -> Any:
        return lambda self, *args: (tag, self.label)

    name = m.__name__
    return [
        Target("plain", m, "plain", function, lambda: handlers["plain"](1)[0], dotted=f"{name}.plain"),
        Target("closed", m, "closed", closure_version, lambda: consumer.closed(1)[0], dotted=f"{name}.closed"),
        Target("cached", m, "cached", function, lambda: consumer.cached(1)[0], dotted=f"{name}.cached"),
        Target("decorated", m, "decorated", function, lambda: consumer.decorated(1)[0]),
        Target("gen", m, "gen", generator_version, lambda: next(consumer.gen(1))[0]),
        Target("coro", m, "coro", lambda tag: lambda x: coroutine_version_of(tag, x),
               lambda: _coroutine_result(consumer.coro(1))[0]),
        Target("method", m.Widget, "method", method, lambda: bound(1)[0], dotted=f"{name}.Widget.method"),
        Target("make", m.Widget, "make", method, lambda: make(1)[0]),
        Target("helper", m.Widget, "helper", function, lambda: helper(1)[0]),
        Target("size", m.Widget, "size", method, lambda: widget.size[0]),
        Target("inherited", m.Gadget, "method", method, lambda: m.Gadget().method(1)[0], falls_back_to="method"),
        Target("instance", own_widget, "method", method, lambda: own_widget.method(1)[0], falls_back_to="method"),
        Target("constant", m, "CONSTANT", lambda tag: (tag,), constant_tag, dotted=f"{name}.CONSTANT"),
        Target("builtin", m, "builtin_alias", function, builtin_tag),
    ]


class ReplaceMachine(RuleBasedStateMachine):
    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.module_context = fresh_targets()
        self.module = self.module_context.__enter__()
        self.registry = PatchRegistry()
        self.targets = {target.key: target for target in build_targets(self.module)}
        assert list(self.targets) == TARGET_KEYS
        self.stacks: dict[str, list[tuple[str, str]]] = {key: [] for key in self.targets}  # (owner, tag)
        self.tags = (f"v{number}" for number in itertools.count())
        self.originals = self._state()

    # -- what a sequence may do -------------------------------------------------------------
    @rule(owner=st.sampled_from(OWNERS),
          edits=st.lists(st.tuples(st.sampled_from(TARGET_KEYS), st.sampled_from(FORMS)), max_size=4),
          fail_after=st.none() | st.integers(min_value=0, max_value=4))
    def run_file(self, owner: str, edits: list[tuple[str, str]], fail_after: int | None) -> None:
        made: list[tuple[str, str]] = []
        try:
            with self.registry.transaction(owner):
                for done, (key, form) in enumerate(edits):
                    if done == fail_after:
                        raise Boom
                    tag = next(self.tags)
                    self._replace(self.targets[key], form, tag, live=True)
                    made.append((key, tag))
                if fail_after is not None:
                    raise Boom
        except Boom:
            return  # the file failed: its previous state stays, exactly
        for stack in self.stacks.values():
            stack[:] = [layer for layer in stack if layer[0] != owner]
        for key, tag in made:
            self.stacks[key].append((owner, tag))

    @rule(target=handles, key=st.sampled_from(TARGET_KEYS), form=st.sampled_from(FORMS[:3]))
    def manual_replace(self, key: str, form: str) -> tuple[str, Replacement]:
        tag = next(self.tags)
        handle = self._replace(self.targets[key], form, tag, live=False)
        self.stacks[key].append((MANUAL_OWNER, tag))
        return tag, handle

    @rule(made=handles)
    def restore_handle(self, made: tuple[str, Replacement]) -> None:
        tag, handle = made
        handle.restore()
        for stack in self.stacks.values():
            stack[:] = [layer for layer in stack if layer[1] != tag]

    @rule(key=st.sampled_from(TARGET_KEYS))
    def restore_one(self, key: str) -> None:
        target, stack = self.targets[key], self.stacks[key]
        assert self.registry.restore(target.owner, target.name) is bool(stack)
        if stack:
            mine = [layer for layer in stack if layer[0] == MANUAL_OWNER]
            stack.remove((mine or stack)[-1])

    @rule()
    def restore_all(self) -> None:
        self.registry.restore_all()
        for stack in self.stacks.values():
            stack.clear()

    @rule(owner=st.sampled_from(OWNERS))
    def delete_file(self, owner: str) -> None:
        self.registry.drop_owner(owner)
        for stack in self.stacks.values():
            stack[:] = [layer for layer in stack if layer[0] != owner]

    # -- what must hold after every step ------------------------------------------------------
    @invariant()
    def every_target_runs_the_top_layer(self) -> None:
        seen = {key: target.observe() for key, target in self.targets.items()}
        assert seen == {key: self._expected(key) for key in self.targets}

    @invariant()
    def the_registry_holds_exactly_the_models_layers(self) -> None:
        rows = sorted((row["target"], row["owner"]) for row in self.registry.active())
        assert len(rows) == sum(len(stack) for stack in self.stacks.values())
        assert self.registry.owners() == {owner for stack in self.stacks.values() for owner, _ in stack}

    @invariant()
    def original_always_runs_the_original(self) -> None:
        assert original(self.module.plain)(1)[0] == "orig"
        assert original(self.module.Widget.method)(self.module.Widget(), 1)[0] == "orig"

    def teardown(self) -> None:
        try:
            self.registry.restore_all()
            assert self._state() == self.originals
            seen = {key: target.observe() for key, target in self.targets.items()}
            assert seen == dict.fromkeys(self.targets, "orig")
            assert self.registry.active() == []
        finally:
            self.module_context.__exit__(None, None, None)

    # -- helpers ----------------------------------------------------------------------------
    def _expected(self, key: str) -> str:
        stack = self.stacks[key]
        if stack:
            return stack[-1][1]
        fallback = self.targets[key].falls_back_to
        return self._expected(fallback) if fallback else "orig"

    def _replace(self, target: Target, form: str, tag: str, *, live: bool) -> Any:
        replace = live_replace if live else self.registry.replace
        new = target.make(tag)
        if form == "dotted" and target.dotted:
            return replace(target.dotted, new)
        if form == "object" and target.key not in {"constant", "instance", "inherited"}:
            return replace(target.owner, getattr(target.owner, target.name), new)
        if form == "decorator" and live:
            return replace(target.owner, target.name)(new)
        return replace(target.owner, target.name, new)

    def _state(self) -> dict[str, Any]:
        """Identity of every attribute involved, and everything about every function object."""
        m = self.module
        state: dict[str, Any] = {}
        for holder in (m, m.Widget, m.Gadget, self.targets["instance"].owner):
            for name, value in vars(holder).items():
                state[f"{holder!r}.{name}"] = value
        functions = [m.plain, m.closed, m.cached.__wrapped__, m.decorated.__wrapped__, m.gen, m.coro,
                     *(vars(m.Widget)[name] for name in ("method", "count")), vars(m.Widget)["make"].__func__,
                     vars(m.Widget)["helper"].__func__, vars(m.Widget)["size"].fget]
        for func in functions:
            state[f"code of {func.__qualname__}"] = (func.__code__, func.__defaults__, func.__kwdefaults__,
                                                     dict(func.__dict__), func.__closure__)
        return state


ReplaceMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_replace_sequences = ReplaceMachine.TestCase
