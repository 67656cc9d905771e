"""Which loaded modules come from a source file, and the source each one was last updated from.

An update in place compares the new source of a file with the version the module runs, so that
version must be known before the first edit: when tracking starts, the caller snapshots every
loaded module of the tracked tree (`SourceStore.snapshot_loaded`), which reads each file as it is
then. A file edited after its module was loaded and before the snapshot is compared with that
edited text, not with what runs; Reload UI (or a restart) brings the two together again.

Modules are found by their `__file__`: in `sys.modules`, plus those the caller names (the host's
script modules, which it keeps outside `sys.modules`). No heap scan.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import types
import weakref
from collections.abc import Iterable
from pathlib import Path

from .codediff import Version, parse, reparse
from .modupdate import UpdateResult, update_module
from .runner import read_source


def module_file(module: types.ModuleType) -> str | None:
    """A module's source file as it gave it, read from its namespace (a lazy module's
    `__getattr__` is never asked); None for a built-in or compiled-only module."""
    namespace = getattr(module, "__dict__", None)
    path = namespace.get("__file__") if isinstance(namespace, dict) else None
    return path if isinstance(path, str) and path.endswith(".py") else None


def modules_from_file(path: str | os.PathLike[str], extra: Iterable[types.ModuleType] = ()) -> list[types.ModuleType]:
    """The loaded modules whose source is `path` (symlinks resolved): in `sys.modules` and `extra`."""
    target = os.path.normcase(os.path.realpath(path))
    names = {os.path.normcase(os.path.basename(path)), os.path.basename(target)}
    found: list[types.ModuleType] = []
    seen: set[int] = set()
    for module in [*list(sys.modules.values()), *extra]:
        if not isinstance(module, types.ModuleType) or id(module) in seen:
            continue
        seen.add(id(module))
        file = module_file(module)
        # realpath touches the disk: only for the few modules with the right file name.
        if file and os.path.normcase(os.path.basename(file)) in names \
                and os.path.normcase(os.path.realpath(file)) == target:
            found.append(module)
    return found


def read_text(path: str | os.PathLike[str]) -> str:
    """A source file's text, decoded as Python decodes it (PEP 263 declaration, universal newlines)."""
    return importlib.util.decode_source(read_source(Path(path)).data)


class SourceStore:
    """The source version each tracked module was last loaded or updated from (weakly held: a
    module the host drops, such as a script module replaced by Reload UI, is forgotten).

    A snapshot is only the text: it is parsed when the module is first updated, so tracking an
    extension adds no parsing to the webui's start.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._versions: weakref.WeakKeyDictionary[types.ModuleType, Version | str] = weakref.WeakKeyDictionary()

    def snapshot(self, module: types.ModuleType, source: str | None = None) -> bool:
        """Remember `source` (read from the module's file now when not given) as what `module`
        runs. False when it has no readable source file."""
        path = module_file(module)
        if path is None:
            return False
        try:
            text = read_text(path) if source is None else source
        except (OSError, ValueError, SyntaxError):  # gone, too large, or not decodable
            return False
        with self._lock:
            self._versions[module] = text
        return True

    def snapshot_loaded(self, root: str | os.PathLike[str],
                        extra: Iterable[types.ModuleType] = ()) -> list[types.ModuleType]:
        """Snapshot every loaded module whose file lies under `root` and is not known yet (call it
        when tracking `root` starts); returns the modules snapshotted.

        A module's file is compared as its path reads, against `root` as given and resolved: a
        realpath per loaded module would cost the webui's start 40 µs times thousands of modules.
        """
        prefixes = tuple({os.path.join(os.path.normcase(os.path.abspath(form)), "")
                          for form in (root, os.path.realpath(root))})
        taken = []
        for module in [*list(sys.modules.values()), *extra]:
            if not isinstance(module, types.ModuleType) or self.knows(module):
                continue
            path = module_file(module)
            if path and os.path.normcase(os.path.abspath(path)).startswith(prefixes) and self.snapshot(module):
                taken.append(module)
        return taken

    def knows(self, module: types.ModuleType) -> bool:
        with self._lock:
            return module in self._versions

    def source_of(self, module: types.ModuleType) -> str | None:
        with self._lock:
            version = self._versions.get(module)
        return version.text if isinstance(version, Version) else version

    def forget(self, module: types.ModuleType) -> None:
        with self._lock:
            self._versions.pop(module, None)

    def update(self, module: types.ModuleType, new_source: str) -> UpdateResult:
        """Update `module` in place from its remembered source to `new_source`; on success that
        becomes the remembered source. One update at a time."""
        with self._lock:
            old = self._versions.get(module)
            if old is None:
                name = str(module.__dict__.get("__name__", "?"))
                return UpdateResult("refused", name, reason=f"{name} was not snapshotted when tracking began, so "
                                    "what it runs is unknown; Reload UI (or restart) to apply")
            path = module_file(module) or (old.filename if isinstance(old, Version) else "")
            try:
                if not isinstance(old, Version):
                    old = parse(old, path)
                new: Version | str = reparse(old, new_source)
            except SyntaxError:
                new = new_source  # update_module reports it (or that the remembered source is broken)
            result = update_module(module, old, new)
            if result.ok and isinstance(new, Version):
                self._versions[module] = new
            return result
