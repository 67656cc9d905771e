"""The builtins as they were when hot reload was imported.

A live file may replace a builtin (`replace(builtins, "len", ...)`): from then on every module that
calls `len` calls the replacement. The code that applies, forwards and undoes replacements
(registry.py, targets.py, inplace.py) must not: a replacement that wraps `original(len)` would
call back into the registry that is calling it, and one that misbehaves would break its own
restore(). Those modules look their builtins up here (`__builtins__ = BUILTINS`, read by each
function they define), not in the `builtins` module a live file changes.
"""
from __future__ import annotations

import builtins
from typing import Any

BUILTINS: dict[str, Any] = dict(builtins.__dict__)
