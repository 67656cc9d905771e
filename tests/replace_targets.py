"""Targets of every kind for the replace() tests, loaded as a fresh module per test (see the
`targets` fixture). Each original returns a tuple starting with "orig", so a test can tell which
version ran."""
from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

CALLS: list[str] = []
COMPUTED: list[Any] = []
CONSTANT = 42
builtin_alias = len


def plain(x: int, y: int = 2, *args: Any, z: int = 3, **kwargs: Any) -> tuple[Any, ...]:
    """Doc of plain."""
    return ("orig", x, y, args, z, kwargs)


def make_closure() -> Callable[[Any], tuple[Any, ...]]:
    secret = "orig-secret"

    def closed(x: Any) -> tuple[Any, ...]:
        return ("orig", secret, x)

    return closed


closed = make_closure()


async def coro(x: Any) -> tuple[Any, ...]:
    return ("orig", x)


def gen(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        yield ("orig", i)
    return "orig-done"


async def agen(n: int) -> AsyncIterator[tuple[Any, ...]]:
    for i in range(n):
        yield ("orig", i)


def logged(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        CALLS.append(func.__name__)
        return func(*args, **kwargs)
    return wrapper


@logged
def decorated(x: Any) -> tuple[Any, ...]:
    """Doc of decorated."""
    return ("orig", x)


def tagged(label: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator factory: the same wrapper code for every label, as torch.no_grad()/inference_mode()."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return (label, func(*args, **kwargs))
        return wrapper
    return decorate


@tagged("outer")
def labelled(x: Any) -> tuple[Any, ...]:
    return ("orig", x)


@functools.lru_cache(maxsize=64)
def cached(x: Any) -> tuple[Any, ...]:
    COMPUTED.append(x)
    return ("orig", x)


class Widget:
    """A class with a method of every kind."""

    label = "widget"

    def method(self, x: Any) -> tuple[Any, ...]:
        return ("orig", self.label, x)

    @classmethod
    def make(cls, x: Any) -> tuple[Any, ...]:
        return ("orig", cls.__name__, x)

    @staticmethod
    def helper(x: Any) -> tuple[Any, ...]:
        return ("orig", x)

    @property
    def size(self) -> tuple[Any, ...]:
        return ("orig", self.label)

    def count(self, n: int) -> int:
        """Calls itself through the class: the replacement is reached from the original too."""
        return 0 if n == 0 else 1 + self.count(n - 1)


class Gadget(Widget):
    label = "gadget"


class Slotted:
    __slots__ = ("handler",)

    def __init__(self) -> None:
        self.handler = plain

    def method(self, x: Any) -> tuple[Any, ...]:
        return ("orig", x)


class CallableThing:
    __slots__ = ()

    def __call__(self, x: Any) -> tuple[Any, ...]:
        return ("orig", x)


callable_thing = CallableThing()


class Api:
    """Registers its bound methods as routes, as the webui's own API does at startup."""

    def __init__(self, app: Any) -> None:
        app.add_api_route("/greet", self.greet, methods=["GET"])
        app.add_api_route("/agreet", self.agreet, methods=["GET"])

    def greet(self, name: str = "world") -> dict[str, str]:
        return {"text": f"hello {name}"}

    async def agreet(self, name: str = "world") -> dict[str, str]:
        return {"text": f"async hello {name}"}
