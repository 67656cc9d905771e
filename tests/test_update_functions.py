"""Updating a loaded module in place: functions, top-level statements, decorators, the
transaction, and live-file replacements on top of updated code. Real files, real imports."""
from __future__ import annotations

import gc
import importlib
import inspect
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotreload_lib.patch.registry import PatchRegistry
from hotreload_lib.update.modupdate import Change
from tests.update_support import BASE_AND_CHILD, CHILD_SAYS, TrackedPackage, tracked_package


@pytest.fixture
def pkg(tmp_path: Path) -> Iterator[TrackedPackage]:
    with tracked_package(tmp_path) as package:
        yield package


GREETINGS = """
    import functools

    CALLS = []

    def greet(name):
        return "hello " + name

    def shout(name):
        return greet(name).upper()

    HANDLERS = [greet]
"""


def test_a_body_edit_reaches_every_alias(pkg: TrackedPackage) -> None:
    pkg.write("mod", GREETINGS)
    pkg.write("consumer", f"from {pkg.name}.mod import greet\n")
    mod = pkg.load("mod")
    consumer = importlib.import_module(f"{pkg.name}.consumer")
    greet = mod.greet

    result = pkg.edit(mod, GREETINGS.replace('"hello "', '"hi "'))

    assert result.ok, result
    assert result.changed == [Change(f"{mod.__name__}.greet", "function", "updated")]
    assert result.updated_functions == [greet]
    assert mod.greet is greet
    assert consumer.greet("ann") == "hi ann"
    assert mod.HANDLERS[0]("bo") == "hi bo"
    assert mod.shout("cy") == "HI CY"


def test_functions_added_and_removed(pkg: TrackedPackage) -> None:
    pkg.write("mod", GREETINGS)
    mod = pkg.load("mod")

    result = pkg.edit(mod, GREETINGS.replace("def shout(name):\n        return greet(name).upper()\n",
                                             "def wave(name):\n        return '~' + greet(name)\n"))

    assert result.ok, result
    assert set(result.changed) == {Change(f"{mod.__name__}.wave", "function", "added"),
                                   Change(f"{mod.__name__}.shout", "function", "removed")}
    assert mod.wave("x") == "~hello x"
    assert not hasattr(mod, "shout")


COUNTING = """
    from {name} import hooks

    COUNTER = 0

    def bump():
        global COUNTER
        COUNTER += 1
        return COUNTER

    def label():
        return "one"

    hooks.register(bump)
    CACHE = {{}}
"""
HOOKS = """
    REGISTERED = []

    def register(callback):
        REGISTERED.append(callback)
"""


def test_an_unchanged_statement_never_runs_again(pkg: TrackedPackage) -> None:
    pkg.write("hooks", HOOKS)
    pkg.write("mod", COUNTING.format(name=pkg.name))
    mod = pkg.load("mod")
    hooks = importlib.import_module(f"{pkg.name}.hooks")
    mod.bump()
    mod.bump()
    mod.CACHE["kept"] = True

    result = pkg.edit(mod, COUNTING.format(name=pkg.name).replace('"one"', '"two"'))

    assert result.ok, result
    assert mod.label() == "two"
    assert mod.COUNTER == 2
    assert mod.CACHE == {"kept": True}
    assert hooks.REGISTERED == [mod.bump]


def test_a_changed_statement_runs_again_in_file_order(pkg: TrackedPackage) -> None:
    source = """
        from {name} import hooks

        def factor():
            return 2

        SCALE = factor() * 10
        hooks.register(SCALE)
    """
    pkg.write("hooks", HOOKS)
    pkg.write("mod", source.format(name=pkg.name))
    mod = pkg.load("mod")
    hooks = importlib.import_module(f"{pkg.name}.hooks")

    edited = source.replace("return 2", "return 3").replace("* 10", "* 100")
    result = pkg.edit(mod, edited.format(name=pkg.name))

    assert result.ok, result
    # The function was updated before the statement after it ran again, and the unchanged call did not.
    assert mod.SCALE == 300
    assert hooks.REGISTERED == [20]
    assert Change(f"{mod.__name__}.SCALE", "value", "updated") in result.changed


def test_moving_definitions_is_no_change_and_lines_follow(pkg: TrackedPackage) -> None:
    source = """
        from {name} import hooks

        def first():
            return 1

        def failing():
            raise ValueError("here")

        class Panel:
            def render(self):
                return "render"

        hooks.register(first)
    """
    pkg.write("hooks", HOOKS)
    pkg.write("mod", source.format(name=pkg.name))
    mod = pkg.load("mod")
    hooks = importlib.import_module(f"{pkg.name}.hooks")

    moved = """
        # a comment and blank lines push everything down


        from {name} import hooks

        def failing():
            raise ValueError("here")  # and a comment here

        def first():
            return 1

        class Panel:
            # a comment inside the class moves its method further

            def render(self):
                return "render"

        hooks.register(first)
    """
    result = pkg.edit(mod, moved.format(name=pkg.name))

    assert result.ok, result
    assert result.changed == []
    assert hooks.REGISTERED == [mod.first]
    assert inspect.getsourcelines(mod.first)[1] == 10
    assert inspect.getsourcelines(mod.Panel.render)[1] == 16
    with pytest.raises(ValueError) as raised:
        mod.failing()
    assert traceback.extract_tb(raised.tb)[-1].lineno == 8


def test_a_syntax_error_changes_nothing(pkg: TrackedPackage) -> None:
    pkg.write("mod", GREETINGS)
    mod = pkg.load("mod")

    broken = GREETINGS.replace('"hello "', '"hi "') + "\n    def broken(:\n        pass\n"
    result = pkg.edit(mod, broken)

    assert result.status == "error"
    assert result.error is not None and result.error.type == "SyntaxError"
    assert result.error.file == mod.__file__ and result.error.line == 14
    assert mod.greet("x") == "hello x"
    # The next good version is compared with what runs, not with the broken one.
    again = pkg.edit(mod, GREETINGS.replace('"hello "', '"hey "'))
    assert again.ok and mod.greet("x") == "hey x"


def test_a_failing_statement_rolls_everything_back(pkg: TrackedPackage) -> None:
    source = """
        LIMIT = 1

        def greet(name):
            return "hello " + name

        def helper():
            return "help"

        class Panel:
            title = "old"

            def render(self):
                return "old render"
    """
    pkg.write("mod", source)
    mod = pkg.load("mod")
    greet, code, panel = mod.greet, mod.greet.__code__, mod.Panel()

    edited = (source.replace("LIMIT = 1", "LIMIT = 2").replace('"hello "', '"hi "')
              .replace('def helper():\n            return "help"\n', "def added():\n            return 1\n")
              .replace('title = "old"', 'title = "new"').replace('"old render"', '"new render"')
              + "\n        raise RuntimeError('late')\n")
    result = pkg.edit(mod, edited)

    assert result.status == "error"
    assert result.error is not None and result.error.summary == "RuntimeError: late"
    assert result.error.line == 16
    assert mod.LIMIT == 1
    assert mod.greet is greet and greet.__code__ is code and greet("x") == "hello x"
    assert mod.helper() == "help"
    assert not hasattr(mod, "added")
    assert mod.Panel.title == "old" and panel.render() == "old render"


def test_future_flags_of_the_module_are_respected(pkg: TrackedPackage) -> None:
    source = """
        from __future__ import annotations

        def size(value: int) -> int:
            return value
    """
    pkg.write("mod", source)
    mod = pkg.load("mod")

    # Without the module's `annotations` flag this def would fail: NotDefinedAnywhere is evaluated.
    result = pkg.edit(mod, source.replace("value: int) -> int", "value: NotDefinedAnywhere) -> int")
                      .replace("return value", "return value * 2"))

    assert result.ok, result
    assert mod.size(2) == 4
    assert mod.size.__annotations__["value"] == "NotDefinedAnywhere"


def test_a_future_import_after_other_statements_is_the_compiler_s_error(pkg: TrackedPackage) -> None:
    source = '"""Doc."""\nfrom __future__ import annotations\n\ndef size(value):\n    return value\n'
    pkg.write("mod", source)
    mod = pkg.load("mod")

    result = pkg.edit(mod, source.replace("return value\n", "return value * 2\n") + "from __future__ import division\n")

    assert result.status == "error" and result.error is not None
    assert result.error.type == "SyntaxError" and result.error.line == 6 and "__future__" in result.error.message
    assert mod.size(2) == 2


def test_changed_future_imports_are_refused(pkg: TrackedPackage) -> None:
    source = "def size(value):\n    return value\n"
    pkg.write("mod", source)
    mod = pkg.load("mod")

    result = pkg.edit(mod, "from __future__ import annotations\n" + source.replace("value\n", "value * 2\n"))

    assert result.status == "refused" and "__future__" in result.reason
    assert mod.size(2) == 2


DECORATORS = """
    import functools

    CALLS = []

    def counted(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            CALLS.append(func.__name__)
            return func(*args, **kwargs)
        return wrapper
"""
DECORATED = """
    from {name} import decorators

    @decorators.counted
    def greet(name):
        return "hello " + name
"""


def test_a_wraps_decorator_from_another_module_keeps_working_around_new_code(pkg: TrackedPackage) -> None:
    pkg.write("decorators", DECORATORS)
    pkg.write("mod", DECORATED.format(name=pkg.name))
    pkg.write("consumer", f"from {pkg.name}.mod import greet\n")
    decorators = importlib.import_module(f"{pkg.name}.decorators")
    mod = pkg.load("mod")
    consumer = importlib.import_module(f"{pkg.name}.consumer")

    result = pkg.edit(mod, DECORATED.format(name=pkg.name).replace('"hello "', '"hi "'))

    assert result.ok, result
    assert consumer.greet("x") == "hi x"
    assert decorators.CALLS == ["greet"], "the decorator must wrap the new code once, not run again"
    assert result.updated_functions == [mod.greet.__wrapped__]


def test_editing_the_decorator_itself_updates_what_it_decorated(pkg: TrackedPackage) -> None:
    source = """
        import functools

        def loud(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return func(*args, **kwargs).upper()
            return wrapper

        @loud
        def greet(name):
            return "hello " + name
    """
    pkg.write("mod", source)
    pkg.write("consumer", f"from {pkg.name}.mod import greet\n")
    mod = pkg.load("mod")
    consumer = importlib.import_module(f"{pkg.name}.consumer")
    assert consumer.greet("x") == "HELLO X"

    result = pkg.edit(mod, source.replace(".upper()", ".upper() + '!'"))

    assert result.ok, result
    assert result.changed == [Change(f"{mod.__name__}.loud", "function", "updated")]
    assert consumer.greet("x") == "HELLO X!"
    assert mod.loud(lambda: "a")() == "A!"


def test_changed_decorators_run_again_and_the_old_function_is_left_alone(pkg: TrackedPackage) -> None:
    source = """
        class Maker:
            @staticmethod
            def make():
                return "static"
    """
    pkg.write("mod", source)
    mod = pkg.load("mod")
    before = mod.Maker.make

    result = pkg.edit(mod, source.replace("@staticmethod", "@classmethod").replace("make():", "make(cls):")
                      .replace('"static"', '"class " + cls.__name__'))

    assert result.ok, result
    assert mod.Maker().make() == "class Maker"
    assert before() == "static", "the old function, called the old way, must still work"
    assert result.updated_functions == []
    assert any("decorators changed" in note for note in result.notes)


SHOUTING = """
    import functools

    def shout(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs).upper() + "!"
        return wrapper

    def whisper(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs).lower()
        return wrapper

    class Greeter:
        def hello(self):
            return "Hello v1"

    def greet():
        return "Hi v1"

    ALIAS = greet
    HANDLERS = [greet]
"""


def with_decorator(source: str, decorator: str) -> str:
    return source.replace("        def hello", f"        @{decorator}\n        def hello").replace(
        "    def greet", f"    @{decorator}\n    def greet")


@pytest.mark.parametrize("body_too", [False, True], ids=["decorators only", "with the body"])
def test_decorators_added_changed_and_removed_are_applied_as_a_fresh_import_makes_them(
        pkg: TrackedPackage, body_too: bool) -> None:
    pkg.write("mod", SHOUTING)
    pkg.write("consumer", f"from {pkg.name}.mod import greet\n")
    mod = pkg.load("mod")
    consumer = importlib.import_module(f"{pkg.name}.consumer")
    bound, stored = mod.Greeter().hello, mod.greet  # held from before the edits: they must follow them

    def version(decorator: str, number: int) -> str:
        source = with_decorator(SHOUTING, decorator) if decorator else SHOUTING
        return source.replace(" v1", f" v{number}") if body_too else source

    steps = [("shout", "HELLO V{}!", "HI V{}!"), ("whisper", "hello v{}", "hi v{}"), ("", "Hello v{}", "Hi v{}")]
    for number, (decorator, method_says, function_says) in enumerate(steps, start=2):
        result = pkg.edit(mod, version(decorator, number))

        assert result.ok, result
        assert set(result.changed) == {Change(f"{mod.__name__}.Greeter.hello", "method", "updated"),
                                       Change(f"{mod.__name__}.greet", "function", "updated")}
        expected = number if body_too else 1
        assert mod.Greeter().hello() == bound() == method_says.format(expected)
        assert mod.greet() == stored() == consumer.greet() == function_says.format(expected)
        assert mod.ALIAS is mod.greet, "the module's other names for the old object hold the new one"
        assert mod.HANDLERS[0]() == function_says.format(expected)
        assert not result.notes

    # A later body edit reaches what was stored before the decorators changed.
    result = pkg.edit(mod, version("", 5).replace("Hello v", "Hey v").replace("Hi v", "Yo v"))
    assert result.ok, result
    assert bound() == mod.Greeter().hello() == ("Hey v5" if body_too else "Hey v1")
    assert stored() == consumer.greet() == mod.greet() == ("Yo v5" if body_too else "Yo v1")


def test_a_decorator_that_does_not_exist_is_an_error_and_changes_nothing(pkg: TrackedPackage) -> None:
    pkg.write("mod", SHOUTING)
    mod = pkg.load("mod")
    greet = mod.greet

    result = pkg.edit(mod, with_decorator(SHOUTING, "nowhere"))

    assert result.status == "error" and result.error is not None
    assert "NameError" in result.error.summary and "nowhere" in result.error.summary
    assert mod.greet is greet and greet() == "Hi v1" and mod.Greeter().hello() == "Hello v1"


APP_STARTED = """
    def on_app_started(routes):
        def ping():
            return "pong v1"

        def helper(value):
            return value

        routes.append(helper(ping))
        return [route.__name__ for route in routes]
"""


def test_closures_an_edited_function_gave_the_host_run_the_new_code(pkg: TrackedPackage) -> None:
    pkg.write("mod", APP_STARTED)
    mod = pkg.load("mod")
    routes: list[Any] = []  # the host's: the module holds none of them
    mod.on_app_started(routes)

    result = pkg.edit(mod, APP_STARTED.replace("pong v1", "pong v2"), held=lambda: list(routes))

    assert result.ok, result
    assert routes[0]() == "pong v2" and routes[0] in result.updated_functions
    assert not result.notes, "the closure was reached: nothing to say"


def test_a_host_that_fails_to_list_what_it_holds_does_not_fail_the_update(pkg: TrackedPackage) -> None:
    pkg.write("mod", APP_STARTED)
    mod = pkg.load("mod")
    mod.on_app_started([])

    def broken() -> list[Any]:
        raise RuntimeError("the app is gone")

    result = pkg.edit(mod, APP_STARTED.replace("pong v1", "pong v2"), held=broken)

    assert result.ok, result
    assert [note.split(":")[0] for note in result.notes] == [f"{mod.__name__}.on_app_started.<locals>.ping"]


def test_a_changed_closure_nothing_known_holds_is_named_in_a_note(pkg: TrackedPackage) -> None:
    pkg.write("mod", APP_STARTED)
    mod = pkg.load("mod")
    routes: list[Any] = []
    mod.on_app_started(routes)

    # Lines moved in `helper` and a changed comprehension are no change anyone must hear of.
    edited = (APP_STARTED.replace("pong v1", "pong v2").replace("def helper", "\n        def helper")
              .replace("route.__name__ for", "route.__qualname__ for"))
    result = pkg.edit(mod, edited)

    assert result.ok, result
    assert routes[0]() == "pong v1", "held where no one looked: it keeps the old code"
    [note] = result.notes
    assert note.startswith(f"{mod.__name__}.on_app_started.<locals>.ping: its code changed"), note
    assert note.endswith(f"until {mod.__name__}.on_app_started runs again")
    assert mod.on_app_started(routes)[-1].endswith("ping")
    assert routes[-1]() == "pong v2"


def test_a_live_file_replacement_stays_on_top_and_original_is_the_updated_code(pkg: TrackedPackage) -> None:
    pkg.write("mod", GREETINGS)
    mod = pkg.load("mod")
    registry = PatchRegistry()
    try:
        handle = registry.replace(mod, "greet", lambda name: "live " + registry.original(mod.greet)(name))
        assert mod.greet("x") == "live hello x"

        result = pkg.edit(mod, GREETINGS.replace('"hello "', '"hi "'))

        assert result.ok, result
        assert mod.greet("x") == "live hi x"
        assert registry.original(mod.greet)("x") == "hi x"
        assert handle.original("x") == "hi x"
        handle.restore()
        assert mod.greet("x") == "hi x"
    finally:
        registry.restore_all()


def test_an_update_under_a_replacement_rolls_back_with_it(pkg: TrackedPackage) -> None:
    pkg.write("mod", GREETINGS)
    mod = pkg.load("mod")
    registry = PatchRegistry()
    try:
        handle = registry.replace(mod, "greet", lambda name: "live")

        result = pkg.edit(mod, GREETINGS.replace('"hello "', '"hi "') + "\n    raise RuntimeError('no')\n")

        assert result.status == "error"
        assert mod.greet("x") == "live"
        assert handle.original("x") == "hello x"
        handle.restore()
        assert mod.greet("x") == "hello x"
    finally:
        registry.restore_all()


def test_a_definition_run_again_leaves_a_later_binding_of_its_name(pkg: TrackedPackage) -> None:
    source = """
        from typing import overload

        @overload
        def scale(value: int) -> int: ...

        @overload
        def scale(value: str) -> str: ...

        def scale(value):
            return value * 2
    """
    pkg.write("mod", source)
    mod = pkg.load("mod")
    scale = mod.scale

    # The stubs hold no function of this file to update: they run again, and the real def stays.
    result = pkg.edit(mod, source.replace("def scale(value: str) -> str", "def scale(value: bytes) -> bytes"))

    assert result.ok, result
    assert mod.scale is scale and mod.scale(2) == 4


def test_an_update_never_walks_the_heap(pkg: TrackedPackage, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg.write("mod", GREETINGS)
    mod = pkg.load("mod")

    def refuse(*args: object) -> None:
        raise AssertionError("an update must find what to patch through the module, not the heap")

    for name in ("get_objects", "get_referrers", "get_referents"):
        monkeypatch.setattr(gc, name, refuse)
    result = pkg.edit(mod, GREETINGS.replace('"hello "', '"hi "').replace("def shout", "def yell"))

    assert result.ok, result
    assert mod.greet("x") == "hi x"


def test_a_caller_on_another_thread_runs_one_version_or_the_other(pkg: TrackedPackage) -> None:
    source = BASE_AND_CHILD.replace(CHILD_SAYS, 'return "one"')
    with_super = source.replace('return "one"', 'return "two " + super().describe()')
    pkg.write("mod", source)
    mod = pkg.load("mod")
    child = mod.Child()
    seen: set[str] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def call() -> None:
        while not stop.is_set():
            try:
                seen.add(child.describe())
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        for version in [with_super, source] * 10:
            assert pkg.edit(mod, version).ok
    finally:
        stop.set()
        caller.join()
    assert errors == []
    assert seen <= {"one", "two base"}
    assert child.describe() == "one"
