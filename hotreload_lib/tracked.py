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
import time
import types
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .codediff import Version, parse, reparse
from .modupdate import UpdateResult, update_module
from .runner import read_source

_CLOCK_SLACK = 2.0  # seconds


def module_file(module: types.ModuleType) -> str | None:
    """A module's source file as it gave it, read from its namespace (a lazy module's
    `__getattr__` is never asked); None for a built-in or compiled-only module."""
    namespace = getattr(module, "__dict__", None)
    path = namespace.get("__file__") if isinstance(namespace, dict) else None
    return path if isinstance(path, str) and path.endswith(".py") else None


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.realpath(path))


def modules_from_file(path: str | os.PathLike[str], extra: Iterable[types.ModuleType] = (), *,
                      among: Iterable[types.ModuleType] | None = None) -> list[types.ModuleType]:
    """The loaded modules whose source is `path` (symlinks resolved): in `sys.modules` and `extra`,
    or only `among` these when given."""
    target = _real(path)
    # Called per saved file over thousands of modules: a C-level test of the name's end first, and
    # realpath (which touches the disk) only for the few modules with the right file name.
    tails = tuple({os.sep + os.path.normcase(os.path.basename(path)), os.sep + os.path.basename(target)})
    found: list[types.ModuleType] = []
    seen: set[int] = set()
    for module in [*list(sys.modules.values()), *extra] if among is None else list(among):
        file = module_file(module) if isinstance(module, types.ModuleType) else None
        if file is None or id(module) in seen or not os.path.normcase(file).endswith(tails):
            continue
        seen.add(id(module))
        if _real(file) == target:
            found.append(module)
    return found


def _modules_shape() -> tuple[int, str]:
    names = list(sys.modules)
    return len(names), names[-1] if names else ""


def _modified_since(path: str, moment: float) -> bool:
    """The file changed at or after `moment`, or may have: a coarse file system clock (FAT keeps
    2 s) counts as after."""
    try:
        return os.stat(path).st_mtime >= moment - _CLOCK_SLACK
    except OSError:
        return True


def read_text(path: str | os.PathLike[str]) -> str:
    """A source file's text, decoded as Python decodes it (PEP 263 declaration, universal newlines)."""
    return importlib.util.decode_source(read_source(Path(path)).data)


def _text_or_none(path: str) -> str | None:
    try:
        return read_text(path)
    except (OSError, ValueError, SyntaxError):  # gone, too large, or not decodable
        return None


@dataclass
class _Scan:
    """What snapshot_loaded saw of one tracked root."""

    time: float
    seen: dict[int, weakref.ref[types.ModuleType]] = field(default_factory=dict)
    # How sys.modules looked: the same size and newest name mean nothing was imported since (a
    # module is added at the end), so a save need not walk the thousands the webui has loaded.
    shape: tuple[int, str] = (0, "")


class SourceStore:
    """The source version each tracked module was last loaded or updated from (weakly held: a
    module the host drops, such as a script module replaced by Reload UI, is forgotten).

    A snapshot is only the text: it is parsed when the module is first updated, so tracking an
    extension adds no parsing to the webui's start.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._versions: weakref.WeakKeyDictionary[types.ModuleType, Version | str] = weakref.WeakKeyDictionary()
        self._late: weakref.WeakSet[types.ModuleType] = weakref.WeakSet()  # loaded and edited before found
        self._scans: dict[str, _Scan] = {}
        # real path -> the text of a file whose module the host is loading afresh (drop())
        self._reloading: dict[str, str] = {}

    def snapshot(self, module: types.ModuleType, source: str | None = None) -> bool:
        """Remember `source` (read from the module's file now when not given) as what `module`
        runs. False when it has no readable source file."""
        path = module_file(module)
        if path is None:
            return False
        text = _text_or_none(path) if source is None else source
        if text is None:
            return False
        with self._lock:
            self._versions[module] = text
            self._late.discard(module)
        return True

    def snapshot_loaded(self, root: str | os.PathLike[str], extra: Iterable[types.ModuleType] = (),
                        forms: Iterable[str] = ()) -> list[types.ModuleType]:
        """Snapshot every loaded module whose file lies under `root` and is not known yet; returns
        the modules snapshotted. Call it when tracking `root` starts, and again before each update:
        a module imported since the last call (inside a callback, say) is found then. If its file
        changed after that last call, it may have changed after it was loaded, so what it runs is
        unknown: it is not snapshotted, and updating it is refused.

        A module's file is compared as its path reads, against `root` as given and resolved and its
        other `forms` (a symlink to it): a realpath per loaded module would cost the webui's start
        40 µs times thousands of modules.
        Modules of sys.modules are looked at once per root.
        """
        key = os.path.normcase(os.path.abspath(root))
        prefixes = tuple({os.path.join(os.path.normcase(os.path.abspath(form)), "")
                          for form in (root, os.path.realpath(root), *forms)})
        now = time.time()
        taken = []
        with self._lock:
            scan = self._scans.get(key)
            shape = _modules_shape()
            self._scans[key] = _Scan(now, scan.seen if scan else {}, shape)
            seen = self._scans[key].seen
            fresh = []
            for module in list(sys.modules.values()) if scan is None or scan.shape != shape else []:
                ref = seen.get(id(module))
                if isinstance(module, types.ModuleType) and (ref is None or ref() is not module):
                    seen[id(module)] = weakref.ref(module)
                    fresh.append(module)
            for module in [*fresh, *extra]:
                if not isinstance(module, types.ModuleType) or self.knows(module) or module in self._late:
                    continue
                path = module_file(module)
                if not path or not os.path.normcase(os.path.abspath(path)).startswith(prefixes):
                    continue
                expected = self._reloading.pop(_real(path), None) if self._reloading else None
                if expected is not None:
                    # Made afresh after drop(): it runs what the file held then, if it holds it still.
                    if _text_or_none(path) == expected and self.snapshot(module, expected):
                        taken.append(module)
                    else:
                        self._late.add(module)
                elif scan is not None and _modified_since(path, scan.time):
                    self._late.add(module)
                elif self.snapshot(module):
                    taken.append(module)
        return taken

    def drop(self, modules: dict[str, types.ModuleType], reexecuted: Iterable[types.ModuleType] = ()) -> None:
        """The host is about to load these modules afresh (its Reload UI): take `modules` out of
        sys.modules, so that the next import of each loads its file again, and forget them. The
        text of their files, and of `reexecuted` (script modules the host executes again), is
        remembered as it is now: the new module of such a file is known to run that text when
        snapshot_loaded() finds it and the file still holds it, however soon after a scan that was.
        Under the lock that every update holds: no update runs meanwhile."""
        with self._lock:
            for name, module in modules.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
                self._versions.pop(module, None)
                self._late.discard(module)
            # A file an earlier drop was for, whose module was not made again (its import failed),
            # is loaded now if ever: as it is now.
            paths = [*self._reloading, *(module_file(module) for module in [*modules.values(), *reexecuted])]
            self._reloading.clear()
            for path in filter(None, paths):
                text = _text_or_none(path)
                if text is not None:
                    self._reloading[_real(path)] = text
            for scan in self._scans.values():
                scan.shape = (-1, "")  # sys.modules may look as it did, with new modules in it

    def modules(self) -> list[types.ModuleType]:
        """The modules it remembers, and those it found too late to know what they run: after
        snapshot_loaded() these are all the modules an edit may be for."""
        with self._lock:
            return [*self._versions.keys(), *self._late]

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

    def update(self, module: types.ModuleType, new_source: str,
               held: Callable[[], Iterable[Any]] | None = None) -> UpdateResult:
        """Update `module` in place from its remembered source to `new_source`; on success that
        becomes the remembered source. One update at a time. `held`: see update_module."""
        with self._lock:
            old = self._versions.get(module)
            if old is None:
                name = str(module.__dict__.get("__name__", "?"))
                why = ("was imported after tracking began and its file changed before it was found"
                       if module in self._late else "was not snapshotted when tracking began")
                return UpdateResult("refused", name, reason=f"{name} {why}, so what it runs is unknown")
            path = module_file(module) or (old.filename if isinstance(old, Version) else "")
            try:
                if not isinstance(old, Version):
                    old = parse(old, path)
                new: Version | str = reparse(old, new_source)
            except SyntaxError:
                new = new_source  # update_module reports it (or that the remembered source is broken)
            result = update_module(module, old, new, held)
            if result.ok and isinstance(new, Version):
                self._versions[module] = new
            return result
