"""What a host lends the reloader, as plain callables, so the engine never imports the webui:
host.py builds them from `modules.*`; without a host (the CLI, the demo, tests) they do nothing.

- `busy()`: why changed files must wait now ("a generation is running"), or "" when they may run;
- `lift_callbacks(path)`: take away the webui callbacks that `path` registered (they are the file's,
  like its replacements) and return a token; `put_back_callbacks(token)` registers them again where
  they were (a failed run keeps its last good state).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _never_busy() -> str:
    return ""


def _nothing_to_lift(_path: str) -> object:
    return None


def _nothing_to_put_back(_token: object) -> None:
    return None


@dataclass(frozen=True)
class HostHooks:
    busy: Callable[[], str] = _never_busy
    lift_callbacks: Callable[[str], object] = _nothing_to_lift
    put_back_callbacks: Callable[[object], None] = _nothing_to_put_back
