"""The one writer every subject's saves go through, so the subjects differ only in how they apply them.

Each save writes a whole file whose function returns a new version number. Two kinds of save:
- "in-place": open with truncation, write, close (VS Code, Sublime, most editors);
- "atomic": write a hidden temp file beside it, then rename it over the file (vim's default on many
  setups, JetBrains' "safe write", gedit, anything using a temp file + os.replace).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

SAVE_KINDS = ("in-place", "atomic")
TARGET_MODULE = "bench_target"
# The target function before any live file ran; every live file returns a version >= 0.
ORIGINAL_VALUE = -1


def function_name(lane: int) -> str:
    return f"value_{lane}"


def target_source(versions: list[int]) -> str:
    """The module whose functions are measured, one per lane (jurigged edits this file itself)."""
    functions = "".join(f"\n\ndef {function_name(lane)}():\n    return {version}\n"
                        for lane, version in enumerate(versions))
    return f'"""The benchmark\'s target module."""\n{functions}'


def tracked_module_source(version: int, helpers: int = 70, classes: int = 7) -> str:
    """A module of about 1000 lines (with the defaults): helper functions and classes, and in their
    middle `value_0`, whose body is what a save changes (the edit an update in place applies)."""
    parts = ['"""A module of the benchmark\'s tracked tree."""\nimport functools\n\nTHRESHOLD = 10\n']
    parts += [_helper(number) for number in range(helpers // 2)]
    parts.append(f'def {function_name(0)}():\n    """What the benchmark calls: each save changes this body."""\n'
                 f"    checked = helper_000([1, 2, 3])\n    return {version} if checked is not None else -3\n")
    parts += [_helper(number) for number in range(helpers // 2, helpers)]
    parts += [_shape(number) for number in range(classes)]
    return "\n\n".join(parts)


def _helper(number: int) -> str:
    return (f"def helper_{number:03d}(items, factor={number + 1}):\n"
            f'    """Sum the scaled items above the threshold, less their positions ({number})."""\n'
            "    total = 0\n    for index, item in enumerate(items):\n        if item * factor > THRESHOLD:\n"
            "            total += item * factor - index\n        else:\n            total -= index\n"
            "    return total\n")


def _shape(number: int) -> str:
    return (f'class Shape{number}:\n    """A shape with a few kinds of method ({number})."""\n\n'
            f"    sides = {number % 5 + 3}\n\n    def __init__(self, size):\n        self.size = size\n\n"
            "    def area(self):\n        return self.size * self.size * self.sides\n\n"
            "    def perimeter(self):\n        return self.size * self.sides\n\n"
            f'    @property\n    def label(self):\n        return f"shape {number} of size {{self.size}}"\n\n'
            "    @classmethod\n    def unit(cls):\n        return cls(1)\n\n"
            "    @functools.cached_property\n    def diagonal(self):\n        return self.size * 2 ** 0.5\n\n"
            "    def scaled(self, factor):\n        return type(self)(self.size * factor)\n")


def live_source(style: str, version: int, lane: int = 0) -> str:
    """A live file that makes `bench_target.value_<lane>()` return `version`, in the subject's own idiom."""
    name = function_name(lane)
    if style == "module":  # jurigged: the module's own file is edited
        return target_source([version])
    if style == "tracked-module":  # an update in place (ours, tracked; jurigged): a large module edited
        return tracked_module_source(version)
    if style == "replace":  # ours: a live file that replace()s the target
        return (
            f"import {TARGET_MODULE}\nfrom hotreload_lib import replace\n\n\n"
            f"def {name}():\n    return {version}\n\n\n"
            f'replace({TARGET_MODULE}, "{name}", {name})\n'
        )
    if style == "setattr":  # text-generation-webui's hot_reload: a file run as a module that sets the attribute
        return (
            f"import {TARGET_MODULE}\n\n\n"
            f"def {name}():\n    return {version}\n\n\n"
            f"{TARGET_MODULE}.{name} = {name}\n"
        )
    raise ValueError(f"unknown live-file style {style!r}")


def save(path: Path, text: str, kind: str) -> int:
    """Save `text` to `path`; returns time.monotonic_ns() taken just before the call that completes
    the save (close() of an in-place save, the rename of an atomic one), so a writer preempted
    around that call can only make a latency look longer, never negative. CLOCK_MONOTONIC is
    system-wide on Linux: the agents' timestamps compare with it directly."""
    data = text.encode("utf-8")
    if kind == "in-place":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        saved_ns = time.monotonic_ns()
        os.close(fd)
    elif kind == "atomic":
        temp = path.with_name(f".{path.name}.bench-tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)
        saved_ns = time.monotonic_ns()
        os.replace(temp, path)
    else:
        raise ValueError(f"unknown save kind {kind!r}")
    return saved_ns


def storm(path: Path, style: str, kind: str, saves: int, seconds: float) -> dict[str, float]:
    """`saves` saves of versions 1..saves spread evenly over `seconds`."""
    started = time.monotonic()
    saved_ns = 0
    for index in range(saves):
        delay = started + index * seconds / saves - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        saved_ns = save(path, live_source(style, index + 1), kind)
    return {"last_saved_ns": saved_ns, "storm_s": time.monotonic() - started}


if __name__ == "__main__":
    # `python -m bench.writer storm PATH STYLE KIND SAVES SECONDS`: a storm from a process of its own,
    # whose one thread never waits for the GIL between a save's truncation and its write.
    _, file, live_style, save_kind, count, duration = sys.argv[1:]
    print(json.dumps(storm(Path(file), live_style, save_kind, int(count), float(duration))))
