"""replace() on every kind of target: what is patched in place, what falls back to the attribute
(always with a note), how originals are reached, and that restore puts back exactly what was there."""
from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotreload_lib import replace as live_replace
from hotreload_lib.patch.registry import ATTRIBUTE_ONLY_NOTE, PatchRegistry, original
from tests.conftest import write
from tests.replace_support import consumer_of, fresh_targets


@pytest.fixture
def targets() -> Iterator[types.ModuleType]:
    with fresh_targets() as module:
        yield module


def snapshot(func: types.FunctionType) -> tuple[Any, ...]:
    """Everything restore must put back on a function object."""
    return (func.__code__, func.__defaults__, func.__kwdefaults__, dict(func.__dict__), func.__name__,
            func.__qualname__, func.__doc__, func.__closure__)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# -- signatures, defaults, closures ------------------------------------------------------------

def test_new_code_keeps_its_own_defaults_kwdefaults_and_globals(targets: types.ModuleType,
                                                                registry: PatchRegistry, tmp_path: Path) -> None:
    before = snapshot(targets.plain)
    alias = consumer_of(targets, "plain").plain
    live = tmp_path / "live_plain.py"
    write(live, textwrap.dedent("""
        SUFFIX = "from the live file"

        def plain(x, y=20, *rest, z=30, w=40, **options):
            return ("new", x, y, rest, z, w, options, SUFFIX)
    """))
    namespace: dict[str, Any] = {"__name__": "live_plain"}
    exec(compile(live.read_text(), str(live), "exec"), namespace)
    registry.replace(targets, "plain", namespace["plain"])
    assert alias(1) == ("new", 1, 20, (), 30, 40, {}, "from the live file")
    assert alias(1, 2, 3, 4, z=5, w=6, k=7) == ("new", 1, 2, (3, 4), 5, 6, {"k": 7}, "from the live file")
    assert str(inspect.signature(alias)) == "(x, y=20, *rest, z=30, w=40, **options)"
    registry.restore_all()
    assert snapshot(targets.plain) == before
    assert alias(1, z=9) == ("orig", 1, 2, (), 9, {})
    assert str(inspect.signature(alias)).startswith("(x: 'int', y: 'int' = 2, *args: 'Any', z: 'int' = 3")


def test_closures_are_patched_and_a_replacement_may_be_a_closure_of_another_size(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias, before = targets.closed, snapshot(targets.closed)
    assert alias.__closure__ is not None and len(alias.__closure__) == 1
    first, second = "a", "b"

    def closed(x: Any) -> tuple[Any, ...]:
        return ("new", first, second, x)

    registry.replace(targets, "closed", closed)
    assert alias(1) == ("new", "a", "b", 1)
    registry.replace(targets, "closed", lambda x: ("lambda", x))
    assert alias(1) == ("lambda", 1)
    registry.restore_all()
    assert snapshot(alias) == before
    assert alias(1) == ("orig", "orig-secret", 1)


# -- async functions, generators, async generators --------------------------------------------

def test_async_functions_stay_coroutine_functions(targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = targets.coro

    async def coro(x: Any) -> tuple[Any, ...]:
        await asyncio.sleep(0)
        return ("new", x)

    registry.replace(targets, "coro", coro)
    assert inspect.iscoroutinefunction(alias)
    assert run(alias(1)) == ("new", 1)
    # A plain function may replace an async one: callers still await the result.
    registry.replace(targets, "coro", lambda x: ("sync", x))
    assert run(alias(2)) == ("sync", 2)
    registry.restore_all()
    assert run(alias(3)) == ("orig", 3)


def test_generators_forward_send_and_return_value(targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = targets.gen

    def gen(n: int) -> Any:
        received = []
        for i in range(n):
            received.append((yield ("new", i)))
        return ("new-done", received)

    registry.replace(targets, "gen", gen)
    assert inspect.isgeneratorfunction(alias)
    running = alias(3)
    assert next(running) == ("new", 0)
    assert running.send("a") == ("new", 1)
    assert running.send("b") == ("new", 2)
    with pytest.raises(StopIteration) as done:
        running.send("c")
    assert done.value.value == ("new-done", ["a", "b", "c"])
    registry.restore_all()
    assert list(alias(2)) == [("orig", 0), ("orig", 1)]


def test_running_generators_keep_their_code_and_new_ones_pick_the_version_when_they_start(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    running = targets.gen(3)
    assert next(running) == ("orig", 0)
    created_before = targets.gen(2)  # created before the patch, not started: the old code too
    registry.replace(targets, "gen", lambda n: iter([("first", n)]))
    assert list(running) == [("orig", 1), ("orig", 2)]
    assert list(created_before) == [("orig", 0), ("orig", 1)]
    created_under_first = targets.gen(5)
    registry.replace(targets, "gen", lambda n: iter([("second", n)]))
    assert list(created_under_first) == [("second", 5)]  # the version current when it starts


def test_async_generators_forward_asend_athrow_and_aclose(targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = targets.agen
    closed: list[str] = []

    async def agen(n: int) -> Any:
        try:
            value = None
            for i in range(n):
                try:
                    value = yield ("new", i, value)
                except KeyError as error:
                    value = f"caught {error.args[0]}"
        finally:
            closed.append("finally ran")

    registry.replace(targets, "agen", agen)
    assert inspect.isasyncgenfunction(alias)

    async def drive() -> list[Any]:
        stream = alias(5)
        seen = [await stream.__anext__(), await stream.asend("sent"), await stream.athrow(KeyError("k"))]
        await stream.aclose()  # a client that stops early: the replacement's finally must run
        return seen

    assert run(drive()) == [("new", 0, None), ("new", 1, "sent"), ("new", 2, "caught k")]
    assert closed == ["finally ran"]

    async def collect() -> list[Any]:
        return [item async for item in alias(2)]

    assert run(collect()) == [("new", 0, None), ("new", 1, None)]
    registry.restore_all()
    assert run(collect()) == [("orig", 0), ("orig", 1)]


def test_a_replacement_of_another_kind_is_reported(targets: types.ModuleType, registry: PatchRegistry) -> None:
    async def plain(x: Any) -> Any:
        return x

    handle = registry.replace(targets, "plain", plain)
    assert handle.mode == "in-place"
    assert handle.note == ("the original is a plain function and the replacement an async function:"
                           " callers still treat it as a plain function")


# -- methods ----------------------------------------------------------------------------------

def test_methods_classmethods_staticmethods_and_properties(targets: types.ModuleType, registry: PatchRegistry) -> None:
    widget, gadget = targets.Widget(), targets.Gadget()
    bound_method, bound_make, helper = widget.method, targets.Widget.make, targets.Widget.helper
    raw = dict(vars(targets.Widget))

    def method(self: Any, x: Any) -> tuple[Any, ...]:
        return ("new", self.label, x)

    def make(cls: Any, x: Any) -> tuple[Any, ...]:
        return ("new", cls.__name__, x)

    def size(self: Any) -> tuple[Any, ...]:
        return ("new", self.label)

    modes = [
        registry.replace(targets.Widget, "method", method).mode,
        registry.replace(targets.Widget, "make", classmethod(make)).mode,  # given as a classmethod: also fine
        registry.replace(targets.Widget, "helper", lambda x: ("new", x)).mode,
        registry.replace(targets.Widget, "size", size).mode,  # the property's getter is patched
    ]
    assert modes == ["in-place"] * 4
    assert bound_method(1) == ("new", "widget", 1)
    assert gadget.method(1) == ("new", "gadget", 1)  # subclasses inherit the patched function
    assert bound_make(2) == ("new", "Widget", 2)
    assert targets.Gadget.make(2) == ("new", "Gadget", 2)
    assert helper(3) == ("new", 3) and widget.helper(3) == ("new", 3)
    assert (widget.size, gadget.size) == (("new", "widget"), ("new", "gadget"))
    registry.restore_all()
    assert dict(vars(targets.Widget)) == raw
    assert (bound_method(1)[0], bound_make(2)[0], helper(3)[0], widget.size[0]) == ("orig",) * 4


def test_an_inherited_name_is_set_on_the_subclass_only(targets: types.ModuleType, registry: PatchRegistry) -> None:
    handle = registry.replace(targets.Gadget, "helper", lambda x: ("new", x))
    method = registry.replace(targets.Gadget, "method", lambda self, x: ("new", self.label, x))
    assert handle.mode == method.mode == "attribute"
    assert handle.note == (f"{ATTRIBUTE_ONLY_NOTE} (inherited from Widget: set on Gadget only)")
    # A plain function stands in for the inherited staticmethod as a staticmethod.
    assert targets.Gadget().helper(1) == ("new", 1) and targets.Gadget.helper(1) == ("new", 1)
    assert targets.Gadget().method(2) == ("new", "gadget", 2)
    assert targets.Widget().helper(1) == ("orig", 1) and targets.Widget().method(2)[0] == "orig"
    assert handle.original(1) == ("orig", 1)
    registry.restore_all()
    assert "helper" not in vars(targets.Gadget) and "method" not in vars(targets.Gadget)


def test_through_an_instance_only_that_instance_changes(targets: types.ModuleType, registry: PatchRegistry) -> None:
    widget, other = targets.Widget(), targets.Widget()
    handle = registry.replace(widget, "method", lambda self, x: ("new", self.label, x))
    maker = registry.replace(widget, "make", lambda cls, x: ("new", cls.__name__, x))
    assert handle.mode == "attribute"
    assert "set on this instance only; replace it on Widget to patch it in place" in handle.note
    assert widget.method(1) == ("new", "widget", 1)  # bound to the instance, like the method it replaces
    assert widget.make(1) == ("new", "Widget", 1)
    assert other.method(1) == ("orig", "widget", 1)
    assert handle.original(1) == ("orig", "widget", 1) and maker.original(1) == ("orig", "Widget", 1)
    registry.restore_all()
    assert "method" not in vars(widget) and "make" not in vars(widget)
    with pytest.raises(TypeError, match="its class defines it as a property; replace it on the class"):
        registry.replace(widget, "size", lambda self: 1)
    with pytest.raises(TypeError, match="instances have __slots__ and no __dict__"):
        registry.replace(targets.Slotted(), "method", lambda self, x: x)
    assert registry.active() == []


def test_a_method_that_calls_itself_reaches_the_replacement(targets: types.ModuleType, registry: PatchRegistry) -> None:
    def count(self: Any, n: int) -> int:
        return 100 + original(targets.Widget.count)(self, n)

    registry.replace(targets.Widget, "count", count)
    # The original's recursive call goes through the class, so it meets the replacement again.
    assert targets.Widget().count(2) == 302


# -- decorators and caches --------------------------------------------------------------------

def test_functools_wraps_decorators_stay_around_the_new_code(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = targets.decorated
    inner = alias.__wrapped__
    before = snapshot(inner)

    def decorated(x: Any, flag: bool = True) -> tuple[Any, ...]:
        """Doc of the replacement."""
        return ("new", x, flag)

    handle = registry.replace(targets, "decorated", decorated)
    assert handle.mode == "in-place"
    assert alias(1) == ("new", 1, True)
    assert targets.CALLS == ["decorated"]  # the decorator still runs, once
    assert alias.__wrapped__ is inner
    assert str(inspect.signature(alias)) == "(x: 'Any', flag: 'bool' = True) -> 'tuple[Any, ...]'"
    assert (alias.__name__, inner.__name__, inner.__qualname__) == ("decorated", "decorated", "decorated")
    assert inner.__doc__ == alias.__doc__ == "Doc of decorated."
    # A replacement decorated the same way is not decorated twice.
    registry.replace(targets, "decorated", targets.logged(lambda x: ("same decorator", x)))
    assert alias(2) == ("same decorator", 2) and targets.CALLS == ["decorated", "decorated"]
    # One that wraps the target with functools.wraps keeps its own wrapper and reaches the original.
    wrap_target = functools.wraps(alias)(lambda x: ("wrapping", original(alias)(x)))
    registry.replace(targets, "decorated", wrap_target)
    assert alias(3) == ("wrapping", ("orig", 3))
    registry.restore_all()
    assert snapshot(inner) == before and alias(4) == ("orig", 4)


def test_only_the_very_same_decorator_is_taken_off_a_replacement(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = targets.labelled
    assert alias(1) == ("outer", ("orig", 1))
    registry.replace(targets, "labelled", targets.tagged("outer")(lambda x: ("copy", x)))
    assert alias(1) == ("outer", ("copy", 1))  # an edited copy of the original: decorated once
    registry.replace(targets, "labelled", targets.tagged("inner")(lambda x: ("other", x)))
    assert alias(1) == ("outer", ("inner", ("other", 1)))  # another decorator: both run
    registry.restore_all()
    assert alias(1) == ("outer", ("orig", 1))


def test_lru_cache_gives_no_stale_result_on_replace_and_on_restore(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = consumer_of(targets, "cached").cached
    assert alias(1) == ("orig", 1) and alias(1) == ("orig", 1)
    assert targets.COMPUTED == [1]
    handle = registry.replace(targets, "cached", lambda x: ("new", x))
    assert handle.mode == "in-place"
    assert alias(1) == ("new", 1)
    assert alias.cache_info().currsize == 1  # the cache still works, around the new code
    registry.replace(targets, "cached", functools.lru_cache(maxsize=8)(lambda x: ("cached twice?", x)))
    assert alias(1) == ("cached twice?", 1)
    registry.restore_all()
    assert alias(1) == ("orig", 1)
    assert targets.COMPUTED == [1, 1]


# -- introspection ----------------------------------------------------------------------------

def test_introspection_stays_sensible(targets: types.ModuleType, registry: PatchRegistry) -> None:
    func = targets.plain

    def other_name(a: str, *, b: int = 1) -> str:
        """Doc of the replacement."""
        return a * b

    registry.replace(targets, "plain", other_name)
    # The function object is still the original one: its names and doc stay; its parameters are the
    # replacement's, since callers (FastAPI, gradio) read them to decide how to call it.
    assert (func.__name__, func.__qualname__, func.__module__, func.__doc__) == (
        "plain", "plain", targets.__name__, "Doc of plain.")
    assert str(inspect.signature(func)) == "(a: 'str', *, b: 'int' = 1) -> 'str'"
    assert func.__code__.co_name == "plain"
    assert not hasattr(func, "__wrapped__")
    registry.replace(targets, "plain", max)  # no signature to take (print has one from Python 3.11 on): the original's
    assert str(inspect.signature(func)).startswith("(x: 'int', y: 'int' = 2")
    assert inspect.signature(original(func)) == inspect.signature(func)
    registry.restore_all()
    assert "__signature__" not in func.__dict__


def test_tracebacks_and_getsource_point_at_the_replacement(
        targets: types.ModuleType, registry: PatchRegistry, tmp_path: Path) -> None:
    live = tmp_path / "live_fail.py"
    write(live, "\n\ndef plain(x):\n    raise LookupError('from the replacement')\n")
    namespace: dict[str, Any] = {}
    exec(compile(live.read_text(), str(live), "exec"), namespace)
    for kind in ("plain", "coro"):
        registry.replace(targets, kind, namespace["plain"])
    with pytest.raises(LookupError) as caught:
        targets.plain(1)
    frames = [(Path(entry.path).name, entry.lineno + 1) for entry in caught.traceback[-2:]]
    assert frames == [("live_fail.py", 3), ("live_fail.py", 4)]  # the forwarding frame: at the def
    assert inspect.getsource(targets.plain) == inspect.getsource(namespace["plain"])
    with pytest.raises(LookupError):
        run(targets.coro(1))
    registry.restore_all()
    assert inspect.getsource(targets.plain).startswith("def plain(x: int")


# -- original() -------------------------------------------------------------------------------

def test_original_lets_a_replacement_wrap_the_original(targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = consumer_of(targets, "plain").plain

    def plain(x: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return ("wrapped", original(targets.plain)(x, *args, **kwargs))

    handle = registry.replace(targets, "plain", plain)
    assert alias(1) == ("wrapped", ("orig", 1, 2, (), 3, {}))
    assert handle.original(5)[0] == "orig"
    assert original(alias) is original(targets.plain) is handle.original
    assert original(plain) is handle.original  # the replacement itself leads to the original too
    widget = targets.Widget()
    method = registry.replace(targets.Widget, "method",
                              lambda self, x: ("wrapped", original(self.method)(x)))
    make = registry.replace(targets.Widget, "make", lambda cls, x: ("wrapped", original(cls.make)(x)))
    assert widget.method(1) == ("wrapped", ("orig", "widget", 1))
    assert targets.Gadget.make(1) == ("wrapped", ("orig", "Gadget", 1))
    assert method.original(widget, 2) == ("orig", "widget", 2)
    assert make.original(2) == ("orig", "Widget", 2)  # bound, as Widget.make was
    assert original(targets.CONSTANT) == targets.CONSTANT  # never replaced: itself
    registry.restore_all()
    assert original(targets.plain) is targets.plain


def test_original_is_found_from_any_registry(targets: types.ModuleType) -> None:
    mine = PatchRegistry()
    try:
        mine.replace(targets, "plain", lambda *a, **k: ("new",))
        assert original(targets.plain)(1)[0] == "orig"
    finally:
        mine.restore_all()


# -- what falls back to the attribute, never silently -------------------------------------------

@pytest.mark.parametrize("name, new, why", [
    ("builtin_alias", lambda x: 7, "a builtin"),
    ("Widget", type("Other", (), {}), "a class"),
    ("CONSTANT", 43, "not a function"),
    ("plain", 43, "the replacement is not callable"),
    ("callable_thing", lambda x: ("new", x), "a CallableThing object with __slots__"),
])
def test_what_cannot_be_patched_in_place_is_set_as_attribute_with_a_note(
        targets: types.ModuleType, registry: PatchRegistry, name: str, new: Any, why: str) -> None:
    before = vars(targets)[name]
    handle = registry.replace(targets, name, new)
    assert (handle.mode, handle.note) == ("attribute", f"{ATTRIBUTE_ONLY_NOTE} ({why})")
    assert vars(targets)[name] is new
    assert registry.active()[0]["note"] == handle.note
    assert handle.original is before or handle.original == before
    registry.restore_all()
    assert vars(targets)[name] is before


def test_a_slotted_instances_function_is_patched_in_place(targets: types.ModuleType, registry: PatchRegistry) -> None:
    holder = targets.Slotted()
    handle = registry.replace(holder, "handler", lambda *a, **k: ("new",))
    assert handle.mode == "in-place"
    assert targets.plain(1) == ("new",)  # the same function object, everywhere
    registry.restore_all()
    assert holder.handler is targets.plain


def test_a_type_that_refuses_attributes_fails_clearly_and_leaves_nothing(registry: PatchRegistry) -> None:
    with pytest.raises(TypeError, match="str"):
        registry.replace(str, "upper", lambda self: self)
    assert registry.active() == []
    with pytest.raises(AttributeError, match=r"does not exist$"):
        registry.replace(str, "no_such_name", lambda self: self)


# -- forms of the API -------------------------------------------------------------------------

def test_every_form_of_replace(targets: types.ModuleType, registry: PatchRegistry) -> None:
    name = targets.__name__
    with registry.transaction("forms.py"):
        @live_replace(targets, "plain")
        def plain(*args: Any, **kwargs: Any) -> str:
            return "decorator"

        @live_replace(f"{name}.closed")
        def closed(x: Any) -> str:
            return "dotted decorator"

        live_replace(f"{name}.Widget", "helper", lambda x: "module path + name")
        live_replace(f"{name}.Widget.make", lambda cls, x: "dotted")
        live_replace(targets.Widget, targets.Widget.method, lambda self, x: "by object")
        live_replace(targets, "CONSTANT", None)  # None is a value, not a missing argument
    assert plain.__name__ == "plain" and callable(closed)  # the decorator gives the function back
    assert (targets.plain(), targets.closed(1), targets.Widget.helper(1), targets.Widget.make(1),
            targets.Widget().method(1), targets.CONSTANT) == (
        "decorator", "dotted decorator", "module path + name", "dotted", "by object", None)
    assert registry.owners() == {"forms.py"}
    assert len(registry.drop_owner("forms.py")[0]) == 6
    assert targets.CONSTANT == 42 and targets.plain(1)[0] == "orig"
    with pytest.raises(ValueError, match="the replacement is the current object"):
        registry.replace(targets, "plain", targets.plain)
    with pytest.raises(ImportError, match="no importable module"):
        registry.replace("no_such_package_xyz.f", len)


# -- layers, owners, transactions --------------------------------------------------------------

def test_stacking_and_removing_a_middle_layer(targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = targets.plain
    handles = [registry.replace(targets, "plain", functools.partial(str, tag)) for tag in "abc"]
    assert alias() == "c"
    handles[1].restore()
    assert alias() == "c"
    handles[2].restore()
    assert alias() == "a"
    assert handles[2].restore() == []  # already gone: nothing changes
    handles[0].restore()
    assert alias(1)[0] == "orig" and registry.active() == []


def test_a_failing_rerun_puts_its_layers_back_under_the_later_ones(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = targets.plain
    with registry.transaction("a.py"):
        live_replace(targets, "plain", lambda *a, **k: "a1")
        live_replace(targets, "CONSTANT", "a1")
    with registry.transaction("b.py"):
        live_replace(targets, "plain", lambda *a, **k: "b1")
    with pytest.raises(RuntimeError), registry.transaction("a.py"):
        assert alias() == "b1" and targets.CONSTANT == 42  # a.py's layers are lifted while it runs
        live_replace(targets, "plain", lambda *a, **k: "a2")
        assert alias() == "a2"
        raise RuntimeError("the file fails")
    assert alias() == "b1" and targets.CONSTANT == "a1"
    assert [(row["owner"], row["depth"]) for row in registry.active() if row["mode"] == "in-place"] == [
        ("a.py", 0), ("b.py", 1)]
    registry.drop_owner("b.py")
    assert alias() == "a1"
    registry.drop_owner("a.py")
    assert alias(1)[0] == "orig" and targets.CONSTANT == 42


def test_two_registries_on_one_function_undo_in_either_order(targets: types.ModuleType) -> None:
    func, code = targets.plain, targets.plain.__code__
    for first_undone in (0, 1):
        registries = [PatchRegistry(), PatchRegistry()]
        registries[0].replace(targets, "plain", lambda *a, **k: "first")
        registries[1].replace(targets, "plain", lambda *a, **k: "second")
        assert func() == "second"
        registries[first_undone].restore_all()
        assert func() == ("second" if first_undone == 0 else "first")
        registries[1 - first_undone].restore_all()
        assert func.__code__ is code and func(1)[0] == "orig"


# -- chain safety -----------------------------------------------------------------------------

def test_another_patch_after_ours_on_an_attribute_is_kept_and_reported(
        targets: types.ModuleType, registry: PatchRegistry, caplog: pytest.LogCaptureFixture) -> None:
    registry.replace(targets, "CONSTANT", 1)
    targets.CONSTANT = 2  # another extension, later
    with caplog.at_level(logging.WARNING):
        changed = registry.restore_all()
    note = (f"another tool changed the value of {targets.__name__}.CONSTANT after our replacement;"
            " kept its change")
    assert changed == [f"{targets.__name__}.CONSTANT", note]
    assert note in caplog.text
    assert targets.CONSTANT == 2


def test_another_wrapper_after_our_in_place_patch_is_kept_and_reaches_the_original(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    registry.replace(targets, "plain", lambda *a, **k: ("ours",))
    theirs_wraps = targets.plain

    def theirs(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return ("theirs", theirs_wraps(*args, **kwargs))

    targets.plain = theirs
    assert targets.plain(1) == ("theirs", ("ours",))
    changed = registry.restore_all()
    assert changed[1] == (f"{targets.__name__}.plain was set by another tool after our replacement; kept it"
                          " (it now reaches the original code)")
    assert targets.plain is theirs
    assert targets.plain(1) == ("theirs", ("orig", 1, 2, (), 3, {}))


def test_another_tools_code_on_the_function_is_kept(targets: types.ModuleType, registry: PatchRegistry) -> None:
    func = targets.plain
    registry.replace(targets, "plain", lambda *a, **k: ("ours",))

    def edited(x: int, y: int = 2, *args: Any, z: int = 3, **kwargs: Any) -> tuple[Any, ...]:
        return ("edited by another tool", x)

    func.__code__ = edited.__code__  # as jurigged does when the webui's own source is edited
    changed = registry.restore_all()
    assert "another tool changed the code of" in changed[1] and "kept its change" in changed[1]
    assert func(1) == ("edited by another tool", 1)
    # A new replacement starts from that code, and restores it.
    handle = registry.replace(targets, "plain", lambda *a, **k: ("ours again",))
    assert (handle.mode, func(1)) == ("in-place", ("ours again",))
    registry.restore_all()
    assert func(1) == ("edited by another tool", 1)


def test_fallbacks_and_foreign_patches_show_in_the_reload_events(live_dir: Path, make_reloader) -> None:
    with fresh_targets() as targets:
        _, watcher = make_reloader()
        source = f"import {targets.__name__} as t\nfrom hotreload_lib import replace\n"
        write(live_dir / "chain.py", source + "replace(t, 'CONSTANT', 'ours')\n")
        event = watcher.file("chain.py", "ok")
        assert event.replaced == ({"target": f"{targets.__name__}.CONSTANT", "mode": "attribute",
                                   "note": f"{ATTRIBUTE_ONLY_NOTE} (not a function)"},)
        targets.CONSTANT = "theirs"  # another extension, after our file ran
        write(live_dir / "chain.py", source + "replace(t, 'builtin_alias', abs)\n")
        event = watcher.file("chain.py", "ok")
        assert any("another tool changed the value of" in note for note in event.notes)
        assert targets.CONSTANT == "theirs"
        targets.builtin_alias = max
        (live_dir / "chain.py").unlink()
        event = watcher.file("chain.py", "removed")
        assert any(f"another tool changed the value of {targets.__name__}.builtin_alias" in note
                   for note in event.notes)
        assert not [label for label in event.restored if "another tool" in label]
        assert targets.builtin_alias is max


def test_a_types_coroutine_generator_stays_awaitable(registry: PatchRegistry) -> None:
    module = types.ModuleType("legacy_coroutines")
    exec("import types\n@types.coroutine\ndef legacy(x):\n    yield\n    return ('orig', x)\n", module.__dict__)

    @types.coroutine
    def legacy(x: Any) -> Any:
        yield
        return ("new", x)

    async def caller() -> Any:
        return await module.legacy(1)

    registry.replace(module, "legacy", legacy)
    assert run(caller()) == ("new", 1)


def test_our_own_later_attribute_layer_is_not_taken_for_another_tool(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    registry.replace(targets, "plain", lambda *a, **k: "in place")
    registry.replace(targets, "plain", 7)  # not callable: an attribute layer on the same name
    assert targets.plain == 7
    changed = registry.restore_all()
    assert not any("another tool" in line for line in changed)
    assert targets.plain(1)[0] == "orig"


# -- super() in a method copied from a copy of the target class -------------------------------------
SUPER_TARGETS = '''
class Base:
    def greet(self):
        return "base"

    @classmethod
    def make(cls):
        return "base-make"

    @property
    def size(self):
        return 1


class Target(Base):
    def greet(self):
        return "target+" + super().greet()

    @classmethod
    def make(cls):
        return "target-make+" + super().make()

    @property
    def size(self):
        return 10 + super().size


class Child(Target):
    pass
'''
EDITED_COPY = '''
class Target(Base):  # the class copied into a live file and edited
    def greet(self):
        return "edited+" + super().greet()

    @classmethod
    def make(cls):
        return "edited-make+" + super().make()

    @property
    def size(self):
        return 100 + super().size
'''


def test_a_method_of_a_copied_class_calls_super_of_the_target(registry: PatchRegistry, tmp_path: Path) -> None:
    path = tmp_path / "super_targets.py"
    write(path, SUPER_TARGETS)
    module = types.ModuleType("super_targets")
    module.__file__ = str(path)
    exec(compile(SUPER_TARGETS, str(path), "exec"), module.__dict__)
    made_before = module.Target()
    greet_alias = made_before.greet
    copy: dict[str, Any] = {"Base": module.Base}
    exec(compile(EDITED_COPY, str(tmp_path / "live.py"), "exec"), copy)
    edited = copy["Target"]
    handles = [registry.replace(module.Target, name, vars(edited)[name]) for name in ("greet", "make", "size")]
    assert [handle.mode for handle in handles] == ["in-place"] * 3
    assert (made_before.greet(), greet_alias(), module.Child().greet()) == ("edited+base",) * 3
    assert module.Target.make() == "edited-make+base-make" and made_before.size == 101
    # Attribute mode: a name the class only inherits, set on that class.
    child_handle = registry.replace(module.Child, "greet", vars(edited)["greet"])
    assert child_handle.mode == "attribute" and module.Child().greet() == "edited+edited+base"
    # The copy itself is untouched: its own super() still names it.
    assert edited().greet() == "edited+base"
    registry.restore_all()
    assert (made_before.greet(), module.Child().greet(), made_before.size) == ("target+base",) * 2 + (11,)


def test_a_replaced_builtin_never_runs_inside_the_registry() -> None:
    """replace(builtins, "len", ...) changes len() for every module, but not for the code that
    applies and undoes replacements: a wrapper calling original(len) does not call back into it
    (it deadlocked), and one that misbehaves does not break its own restore() (an IndexError that
    left len replaced)."""
    import builtins

    real_len = builtins.len
    registry = PatchRegistry()
    calls: list[int] = []

    def counting_len(obj: Any) -> int:
        calls.append(1)
        return original(real_len)(obj)

    handle = registry.replace(builtins, "len", counting_len)
    try:
        assert handle.mode == "attribute" and builtins.len is counting_len
        assert builtins.len([1, 2, 3]) == 3 and calls == [1]  # only the call above
    finally:
        handle.restore()
    assert builtins.len is real_len and calls == [1]

    broken = registry.replace(builtins, "len", lambda obj: 42)
    try:
        assert broken.restore() == ["builtins.len"]
    finally:
        builtins.len = real_len  # never leave the test run broken, whatever restore() did
    assert registry.active() == []
