"""Which loaded modules come from a source file, and the source each one was last updated from.

An update in place compares the new source of a file with the version the module runs, so that
version must be known before the first edit. A module of a tracked tree imported once tracking has
begun (a package module, or a script the host executes from file, as Reload UI does) is known from
the moment it is imported: an import hook records the very text the import compiled, so a file
written a moment before it is imported and edited just after is compared with what runs. Modules
loaded before tracking began are snapshotted when it begins (`SourceStore.snapshot_loaded` reads
each file as it is then): a file edited after its module was loaded and before tracking began is
compared with that edited text, not with what runs; Reload UI (or a restart) brings the two together.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.machinery import SourceFileLoader
from pathlib import Path
from typing import Any

from ..live.runner import read_source
from .codediff import Version, parse, reparse
from .modupdate import UpdateResult, update_module


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

    seen: dict[int, weakref.ref[types.ModuleType]] = field(default_factory=dict)
    # How sys.modules looked: the same size and newest name mean nothing was imported since (a
    # module is added at the end), so a save need not walk the thousands the webui has loaded.
    shape: tuple[int, str] = (0, "")


# The stores that want the source of each module imported from their trees, held weakly (a stopped
# reloader's store goes); a tuple replaced whole, so that an import on any thread reads it unlocked.
_listening: tuple[weakref.ref[SourceStore], ...] = ()
_HOOK_MARK = "_hot_reload_wrapped"


def _exec_recording(loader: SourceFileLoader, module: types.ModuleType) -> None:
    """SourceFileLoader.exec_module, which every `import` of a .py file and every file the host
    executes (spec_from_file_location) goes through: for a file of a tracked tree it compiles the
    source it reads itself (never a cached .pyc, which may be older than the text) and hands that
    very text to the stores before running it; any other file goes on as before."""
    path = getattr(loader, "path", None)
    key = os.path.normcase(os.path.abspath(path)) if isinstance(path, str) else ""
    listening = [ref() for ref in _listening]
    stores = [store for store in listening if store is not None and key and key.startswith(store.import_prefixes)]
    if not stores:
        _exec_recording._hot_reload_wrapped(loader, module)  # type: ignore[attr-defined]
        return
    data = loader.get_data(path)
    code = loader.source_to_code(data, path)  # as the loader compiles it: a SyntaxError is the import's
    text = importlib.util.decode_source(data)
    for store in stores:
        store.imported(module, text)
    exec(code, module.__dict__)  # what the loader itself does with the code


def _listen(store: SourceStore) -> None:
    """Hand `store` the source of each module imported from its trees. The hook goes on
    SourceFileLoader once per process (a copy of this module loaded again, as tests do, takes it
    over rather than stacking a second one)."""
    global _listening
    _listening = (*(ref for ref in _listening if ref() not in (None, store)), weakref.ref(store))
    current = SourceFileLoader.exec_module
    if current is _exec_recording:
        return
    _exec_recording._hot_reload_wrapped = getattr(current, _HOOK_MARK, current)  # type: ignore[attr-defined]
    SourceFileLoader.exec_module = _exec_recording  # type: ignore[method-assign]


class SourceStore:
    """The source version each tracked module was last loaded or updated from (weakly held: a
    module the host drops, such as a script module replaced by Reload UI, is forgotten).

    A snapshot is only the text: it is parsed when the module is first updated, so tracking an
    extension adds no parsing to the webui's start.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._versions: weakref.WeakKeyDictionary[types.ModuleType, Version | str] = weakref.WeakKeyDictionary()
        self._scans: dict[str, _Scan] = {}
        # What imports compiled, not yet taken into _versions: an import hands it over under a lock
        # of its own, since it may hold a module's import lock that an update (under _lock) waits for.
        self._imported: weakref.WeakKeyDictionary[types.ModuleType, str] = weakref.WeakKeyDictionary()
        self._imported_lock = threading.Lock()
        self.import_prefixes: tuple[str, ...] = ()  # the tracked roots' folders, as the import hook compares them

    def imported(self, module: types.ModuleType, text: str) -> None:
        """The import hook: `module` is about to run `text`."""
        with self._imported_lock:
            self._imported[module] = text

    def _take_imported(self) -> None:
        with self._imported_lock:
            imported = list(self._imported.items())
            self._imported.clear()
        for module, text in imported:
            self._versions[module] = text

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
        return True

    def snapshot_loaded(self, root: str | os.PathLike[str], extra: Iterable[types.ModuleType] = (),
                        forms: Iterable[str] = ()) -> list[types.ModuleType]:
        """Start knowing what the modules of `root` run: from now on each one imported from it is
        known from its import on; every loaded module whose file lies under `root` and is not known
        yet is snapshotted from its file as it reads now. Returns the modules snapshotted. Call it
        when tracking `root` starts, and again before each update: a module loaded in a way the
        import hook does not see (another loader) is found then.

        A module's file is compared as its path reads, against `root` as given and resolved and its
        other `forms` (a symlink to it): a realpath per loaded module would cost the webui's start
        40 µs times thousands of modules.
        Modules of sys.modules are looked at once per root.
        """
        key = os.path.normcase(os.path.abspath(root))
        prefixes = tuple({os.path.join(os.path.normcase(os.path.abspath(form)), "")
                          for form in (root, os.path.realpath(root), *forms)})
        taken = []
        with self._lock:
            if not set(prefixes) <= set(self.import_prefixes):
                self.import_prefixes = tuple({*self.import_prefixes, *prefixes})
                _listen(self)
            self._take_imported()
            scan = self._scans.get(key)
            shape = _modules_shape()
            self._scans[key] = _Scan(scan.seen if scan else {}, shape)
            seen = self._scans[key].seen
            fresh = []
            for module in list(sys.modules.values()) if scan is None or scan.shape != shape else []:
                ref = seen.get(id(module))
                if isinstance(module, types.ModuleType) and (ref is None or ref() is not module):
                    seen[id(module)] = weakref.ref(module)
                    fresh.append(module)
            for module in [*fresh, *extra]:
                if not isinstance(module, types.ModuleType) or module in self._versions:
                    continue
                path = module_file(module)
                if path and os.path.normcase(os.path.abspath(path)).startswith(prefixes) and self.snapshot(module):
                    taken.append(module)
        return taken

    def drop(self, modules: dict[str, types.ModuleType]) -> None:
        """The host is about to load these modules afresh (its Reload UI): take `modules` out of
        sys.modules, so that the next import of each loads its file again, and forget them. The new
        modules are known from their import on (the import hook records what each one compiled).
        Under the lock that every update holds: no update runs meanwhile."""
        with self._lock:
            for name, module in modules.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
                self._versions.pop(module, None)
            for scan in self._scans.values():
                scan.shape = (-1, "")  # sys.modules may look as it did, with new modules in it

    def modules(self) -> list[types.ModuleType]:
        """The modules it knows: after snapshot_loaded() these are all the modules an edit may be for."""
        with self._lock:
            self._take_imported()
            return list(self._versions.keys())

    def knows(self, module: types.ModuleType) -> bool:
        with self._lock:
            self._take_imported()
            return module in self._versions

    def source_of(self, module: types.ModuleType) -> str | None:
        with self._lock:
            self._take_imported()
            version = self._versions.get(module)
        return version.text if isinstance(version, Version) else version

    def forget(self, module: types.ModuleType) -> None:
        with self._lock:
            self._take_imported()
            self._versions.pop(module, None)

    def update(self, module: types.ModuleType, new_source: str,
               held: Callable[[], Iterable[Any]] | None = None) -> UpdateResult:
        """Update `module` in place from its remembered source to `new_source`; on success that
        becomes the remembered source. One update at a time. `held`: see update_module."""
        with self._lock:
            self._take_imported()
            old = self._versions.get(module)
            if old is None:
                name = str(module.__dict__.get("__name__", "?"))
                return UpdateResult("refused", name, reason=f"{name} was not snapshotted when tracking began (its "
                                    "file could not be read), so what it runs is unknown")
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
