"""Patches land while other threads call the patched functions, as the webui serves requests while
a live file runs: no call fails, every call runs exactly one version from start to end (new code
never meets old defaults), a running call keeps its code, and concurrent replace/restore calls
leave the registry exact."""
from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hotreload_lib.patch.registry import PatchRegistry, Replacement
from tests.replace_support import fresh_targets

SWAPS = 3000
WAIT_FOR_WORKERS_EVERY = 25


@pytest.fixture
def targets() -> Iterator[types.ModuleType]:
    with fresh_targets() as module:
        yield module


@pytest.fixture
def fast_thread_switches() -> Iterator[None]:
    """Switch threads far more often than the default 5 ms, so patches land in the middle of calls."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def plain_version(tag: str) -> Callable[..., Any]:
    def plain(x: Any, y: Any = tag, *args: Any, z: Any = tag, **kwargs: Any) -> tuple[Any, ...]:
        return (tag, x, y, args, z, kwargs)
    return plain


def method_version(tag: str) -> Callable[..., Any]:
    def method(self: Any, x: Any, label: str = tag) -> tuple[Any, ...]:
        return (tag, label, x)
    return method


def generator_version(tag: str) -> Callable[..., Any]:
    def gen(n: int) -> Any:
        for i in range(n):
            yield (tag, i)
    return gen


def coroutine_version(tag: str) -> Callable[..., Any]:
    async def coro(x: Any) -> tuple[Any, ...]:
        await asyncio.sleep(0)
        return (tag, x)
    return coro


class Worker(threading.Thread):
    """Calls one target in a loop and checks that each result comes from a single version."""

    def __init__(self, name: str, call: Callable[[int], str]) -> None:
        super().__init__(name=f"caller-{name}", daemon=True)
        self.call = call
        self.stop = threading.Event()
        self.calls = 0
        self.versions: Counter[str] = Counter()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.versions[self.call(self.calls)] += 1
            except BaseException as error:  # noqa: BLE001 - every failure is a finding, reported below
                self.errors.append(error)
                return
            self.calls += 1


def check_plain(func: Callable[..., Any]) -> Callable[[int], str]:
    def call(i: int) -> str:
        result = func(i)
        tag = result[0]
        expected = ("orig", i, 2, (), 3, {}) if tag == "orig" else (tag, i, tag, (), tag, {})
        assert result == expected, f"a mixed call: {result}"
        return str(tag)
    return call


def check_method(bound: Callable[..., Any]) -> Callable[[int], str]:
    def call(i: int) -> str:
        result = bound(i)
        tag = result[0]
        assert result == (("orig", "widget", i) if tag == "orig" else (tag, tag, i)), f"a mixed call: {result}"
        return str(tag)
    return call


def check_generator(gen: Callable[..., Any]) -> Callable[[int], str]:
    def call(i: int) -> str:
        items = list(gen(3))
        tags = {tag for tag, _ in items}
        assert len(tags) == 1 and [n for _, n in items] == [0, 1, 2], f"a mixed generator: {items}"
        return str(tags.pop())
    return call


def check_coroutine(coro: Callable[..., Any]) -> Callable[[int], str]:
    loop = asyncio.new_event_loop()

    def call(i: int) -> str:
        tag, x = loop.run_until_complete(coro(i))
        assert x == i
        return str(tag)
    return call


def wait_for_progress(workers: list[Worker]) -> None:
    """Let every worker make a call after the last swap (no timing bound: only a hang fails)."""
    marks = [worker.calls for worker in workers]
    deadline = time.monotonic() + 120
    while any(worker.calls == mark and worker.is_alive() for worker, mark in zip(workers, marks, strict=True)):
        assert time.monotonic() < deadline, "a worker made no progress"
        time.sleep(0)


def test_calls_during_thousands_of_swaps_each_run_exactly_one_version(
        targets: types.ModuleType, registry: PatchRegistry, fast_thread_switches: None) -> None:
    bound = targets.Widget().method
    workers = [
        Worker("plain", check_plain(targets.plain)),
        Worker("method", check_method(bound)),
        Worker("generator", check_generator(targets.gen)),
        Worker("coroutine", check_coroutine(targets.coro)),
    ]
    makers: list[tuple[Any, str, Callable[[str], Any]]] = [
        (targets, "plain", plain_version), (targets.Widget, "method", method_version),
        (targets, "gen", generator_version), (targets, "coro", coroutine_version),
    ]
    choose = random.Random(4).random
    handles: list[Replacement] = []
    for worker in workers:
        worker.start()
    try:
        for swap in range(SWAPS):
            roll = choose()
            if roll < 0.55 or not handles:
                owner, name, make = makers[swap % len(makers)]
                handles.append(registry.replace(owner, name, make(f"v{swap}")))
            elif roll < 0.97:
                handles.pop(int(choose() * len(handles))).restore()  # any layer, also a middle one
            else:
                registry.restore_all()
                handles.clear()
            if swap % WAIT_FOR_WORKERS_EVERY == 0:
                wait_for_progress(workers)
    finally:
        for worker in workers:
            worker.stop.set()
        for worker in workers:
            worker.join(60)
    assert [worker.errors for worker in workers] == [[], [], [], []]
    for worker in workers:
        # Each caller met many versions: the swaps really landed between its calls.
        assert len(worker.versions) > 10, (worker.name, worker.versions)
    registry.restore_all()
    assert targets.plain(1) == ("orig", 1, 2, (), 3, {}) and bound(1) == ("orig", "widget", 1)


def test_a_running_call_finishes_with_the_code_it_started_with(registry: PatchRegistry) -> None:
    module = types.ModuleType("slow_target")
    exec(
        "def slow(entered, gate, x):\n"
        "    first = 'orig-start'\n"
        "    entered.set()\n"
        "    gate.wait(60)\n"
        "    return (first, 'orig-end', x)\n",
        module.__dict__,
    )

    def slow(entered: threading.Event, gate: threading.Event, x: Any) -> tuple[Any, ...]:
        entered.set()
        gate.wait(60)
        return ("new-start", "new-end", x)

    for patch_while_running in (True, False):
        entered, gate = threading.Event(), threading.Event()
        results: list[Any] = []
        caller = threading.Thread(target=lambda done, *args: done.append(module.slow(*args)),
                                  args=(results, entered, gate, 1))
        caller.start()
        assert entered.wait(60)
        if patch_while_running:
            registry.replace(module, "slow", slow)  # lands while the original runs
            expected = ("orig-start", "orig-end", 1)
        else:
            registry.restore_all()  # lands while the replacement runs
            expected = ("new-start", "new-end", 1)
        gate.set()
        caller.join(60)
        assert results == [expected]
        ready = threading.Event()
        ready.set()
        assert module.slow(threading.Event(), ready, 2)[0] == ("new-start" if patch_while_running else "orig-start")


def test_replace_and_restore_from_many_threads_leave_the_registry_exact(
        targets: types.ModuleType, registry: PatchRegistry, fast_thread_switches: None) -> None:
    before = (targets.plain.__code__, dict(vars(targets.Widget)), targets.CONSTANT)
    errors: list[BaseException] = []

    def churn(seed: int) -> None:
        choose = random.Random(seed)
        mine: list[Replacement] = []
        try:
            for step in range(300):
                owner, name = choose.choice([(targets, "plain"), (targets.Widget, "method"),
                                             (targets.Gadget, "method"), (targets, "CONSTANT")])
                if choose.random() < 0.6 or not mine:
                    value = (f"{seed}-{step}",) if name == "CONSTANT" else plain_version(f"{seed}-{step}")
                    mine.append(registry.replace(owner, name, value))
                else:
                    mine.pop(choose.randrange(len(mine))).restore()
            for handle in mine:
                handle.restore()
        except BaseException as error:  # noqa: BLE001 - collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=churn, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert registry.active() == []
    assert (targets.plain.__code__, dict(vars(targets.Widget)), targets.CONSTANT) == before
    assert "method" not in vars(targets.Gadget)
