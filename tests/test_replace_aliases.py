"""Every reference to a replaced function runs the replacement: names imported into other modules,
bound methods taken before the patch, handlers kept in lists and dicts, and routes of a real
FastAPI server on 127.0.0.1. After restore every one of them runs the original again."""
from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hotreload_lib.patch.registry import PatchRegistry, original
from tests.conftest import served
from tests.replace_support import consumer_of, fresh_targets


@pytest.fixture
def targets() -> Iterator[types.ModuleType]:
    with fresh_targets() as module:
        yield module


def test_names_imported_elsewhere_bound_methods_lists_and_dicts_all_see_the_replacement(
        targets: types.ModuleType, registry: PatchRegistry) -> None:
    consumer = consumer_of(targets, "plain", "Widget")
    widget = targets.Widget()
    bound = widget.method  # taken before the patch, as a callback registry would
    handlers = [targets.plain, widget.method]
    by_name = {"plain": targets.plain, "method": widget.method}
    original_plain, original_method = targets.plain, targets.Widget.__dict__["method"]

    def plain(x: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return ("new", x)

    def method(self: Any, x: Any) -> tuple[Any, ...]:
        return ("new", self.label, x)

    first = registry.replace(targets, "plain", plain)
    second = registry.replace(targets.Widget, "method", method)
    assert (first.mode, second.mode) == ("in-place", "in-place")
    assert consumer.plain(1) == ("new", 1)
    assert bound(2) == ("new", "widget", 2)
    assert [handler(3) for handler in handlers] == [("new", 3), ("new", "widget", 3)]
    assert by_name["method"](4) == ("new", "widget", 4)
    assert consumer.Widget().method(5) == ("new", "widget", 5)
    # The objects themselves are untouched: identity, as every alias holds it, is kept.
    assert targets.plain is original_plain and targets.Widget.__dict__["method"] is original_method

    assert registry.restore_all() == [f"{targets.__name__}.Widget.method", f"{targets.__name__}.plain"]
    assert consumer.plain(1) == ("orig", 1, 2, (), 3, {})
    assert bound(2) == ("orig", "widget", 2)
    assert [handler(3)[0] for handler in handlers] == ["orig", "orig"]
    assert by_name["plain"] is original_plain


def test_restore_by_handle_by_name_and_by_object(targets: types.ModuleType, registry: PatchRegistry) -> None:
    alias = targets.closed
    handle = registry.replace(targets, "closed", lambda x: ("a", x))
    assert alias(1) == ("a", 1)
    assert handle.restore() == [f"{targets.__name__}.closed"]
    assert alias(1) == ("orig", "orig-secret", 1)
    registry.replace(targets, targets.closed, lambda x: ("b", x))  # naming the target by the object
    assert alias(1) == ("b", 1)
    assert registry.restore(targets, "closed") is True
    assert registry.restore(targets, "closed") is False
    registry.replace(f"{targets.__name__}.closed", lambda x: ("c", x))  # by dotted path
    assert alias(1) == ("c", 1)
    assert registry.restore(f"{targets.__name__}.closed") is True
    assert alias(1) == ("orig", "orig-secret", 1)


@pytest.fixture
def served_api(targets: types.ModuleType) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 whose routes are bound methods registered at startup."""
    app = FastAPI()
    targets.Api(app)
    with served(app) as url:
        yield url


def test_a_route_registered_with_a_bound_method_runs_the_replacement(
        targets: types.ModuleType, registry: PatchRegistry, served_api: str) -> None:
    def greet(self: Any, name: str = "world") -> dict[str, str]:
        return {"text": f"patched {name}", "original": original(targets.Api.greet)(self, name)["text"]}

    async def agreet(self: Any, name: str = "world") -> dict[str, str]:
        return {"text": f"async patched {name}"}

    with httpx.Client(base_url=served_api, timeout=30) as client:
        assert client.get("/greet", params={"name": "ann"}).json() == {"text": "hello ann"}
        registry.replace(targets.Api, "greet", greet)
        registry.replace(targets.Api, "agreet", agreet)
        assert client.get("/greet", params={"name": "ann"}).json() == {"text": "patched ann", "original": "hello ann"}
        assert client.get("/agreet").json() == {"text": "async patched world"}
        registry.restore_all()
        assert client.get("/greet", params={"name": "bob"}).json() == {"text": "hello bob"}
        assert client.get("/agreet").json() == {"text": "async hello world"}
