"""A tracked source tree: an extension you develop. Its files never run as live files; an edit of a
file that an already-loaded module came from updates that module in place (tracked.py finds the
modules and remembers what they run, modupdate.py applies the difference); a stylesheet or a script
of its javascript/ folder is a page asset, which the open pages take up (CSS) or offer to reload (JS).

The host runs an extension's preload.py and install.py only when it starts (install.py also after
installing it): a save of either at the tree's root runs nothing and says so, although the host keeps
preload.py's module (A1111: in `script_loading.loaded_scripts`). A file no loaded module came from (a
module not imported yet) runs nothing: said once, at debug level, since editing one is normal work.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import types
import weakref
from pathlib import Path
from typing import Any

from ..events import EventLog, ReloadEvent, Reporter
from ..hooks import HostHooks
from ..live.runner import SourceTooLarge, error_info
from ..timings import Timings
from ..watching.supervise import ObserverOptions, WatchSupervisor
from .modupdate import Change, UpdateResult
from .tracked import SourceStore, module_file, modules_from_file, read_text

TRACKED_SUFFIXES = (".py", ".css", ".js", ".mjs")  # its modules, and the page assets the webui serves from it

log = logging.getLogger("hot_reload")
STYLESHEET_SUFFIXES = (".css",)
SCRIPT_SUFFIXES = (".js", ".mjs")
# Hot reload's own package: Reload UI never drops it (it holds the reloader), also when it is tracked.
OWN_PACKAGE = "hotreload_lib"
# The files at an extension's root the host runs at its start only, and when.
STARTUP_FILES = {"preload.py": "when the webui starts", "install.py": "when the webui starts or installs the extension"}


class TrackedTree:
    """The WatchedRoot of a tracked tree."""

    def __init__(self, folder: Path, store: SourceStore, reporter: Reporter, host: HostHooks) -> None:
        self.folder = folder
        self.store = store
        self.reporter = reporter
        self.host = host
        self.updated: dict[str, int] = {}  # module name -> updates applied, for the status view
        # path -> the error of its last save, while its modules run older code than the file: a page
        # that opens or catches up later shows it as it shows a failing live file's.
        self.failing: dict[str, ReloadEvent] = {}
        self._said_not_loaded: set[str] = set()
        self._forms: list[str] = []  # the host's other paths of the folder, found at each sync
        # path -> the modules of a failing file that Reload UI is making afresh: while none is new
        # the file still fails (its import failed, or nothing imported it yet)
        self._awaiting: dict[str, list[weakref.ref[types.ModuleType]]] = {}

    # -- WatchedRoot ------------------------------------------------------------------------
    def sync(self, *, again: bool) -> None:
        """Remember what the tree's loaded modules run now (at start, and after Reload UI made new
        script modules). After missed events (`again` False), also apply what changed meanwhile."""
        self._forms = list(self.host.path_forms(str(self.folder)))
        self.store.snapshot_loaded(self.folder, self._script_modules(), self._forms)
        self._settle_reloaded()
        if again:
            return
        for module in self._tracked_modules():
            path = module_file(module)
            try:
                if path is not None and read_text(path) != self.store.source_of(module):
                    self.handle(Path(path))
            except (OSError, ValueError, SyntaxError):
                continue  # gone or unreadable: its next save says so

    def handle(self, path: Path) -> None:
        if path.suffix in STYLESHEET_SUFFIXES:
            self._asset_changed(path, "css")
        elif path.suffix in SCRIPT_SUFFIXES:
            self._asset_changed(path, "js")
        elif path.suffix == ".py":
            self._source_changed(path)

    def release(self, *, stopping: bool) -> None:
        """Updates are not undone: they are the code on disk. What the tree ran stays known."""

    # -- Reload UI --------------------------------------------------------------------------
    def drop_modules(self) -> list[str]:
        """Before the host's Reload UI executes the extensions' scripts again (on the host's
        thread): take this tree's modules that belong to an extension out of sys.modules, so that
        its scripts import them afresh and they run their files' code: a change refused in place
        applies then. Never hot reload's own modules (they hold the reloader), nor those of a tree
        that is no extension (the webui's own code would go on with the old ones). Returns the
        names taken out."""
        self._forms = list(self.host.path_forms(str(self.folder)))
        extensions = self._extensions()
        modules = {name: module for name, module in list(sys.modules.items())
                   if self._imported_again(name, module, extensions)}
        for path in list(self.failing):
            stale = modules_from_file(path, among=self.store.modules())
            self._awaiting[path] = [weakref.ref(module) for module in stale]
        self.store.drop(modules)
        return list(modules)

    def _extensions(self) -> list[Path]:
        return [Path(os.path.realpath(folder)) for folder in self.host.extension_folders()]

    def _imported_again(self, name: str, module: object, extensions: list[Path]) -> bool:
        """Whether `module`, sys.modules[name], is one drop_modules() takes out: it lies in this
        tree and in an extension (a namespace package: all its folders do), and is not ours."""
        if not isinstance(module, types.ModuleType) or name == OWN_PACKAGE or name.startswith(OWN_PACKAGE + "."):
            return False
        path = module_file(module)
        if path:
            return self._inside(path, extensions)
        if module.__dict__.get("__file__"):
            return False  # compiled: it cannot be loaded again
        try:
            folders = [os.path.join(folder, "") for folder in module.__dict__.get("__path__") or []]
        except TypeError:  # not a package's list of folders
            return False
        return bool(folders) and all(self._inside(folder, extensions) for folder in folders)

    def _executed_again(self, module: types.ModuleType, extensions: list[Path]) -> bool:
        """Whether `module` is one of this tree's scripts/*.py, which Reload UI executes again."""
        path = module_file(module)
        if not path or not self._inside(path, extensions):
            return False
        folder = Path(os.path.realpath(path)).parent
        return folder.name == "scripts" and folder.parent in extensions

    def _inside(self, path: str, extensions: list[Path]) -> bool:
        """`path` lies in this tree (as its path reads) and in one of `extensions` (resolved)."""
        if not path.startswith(self._prefixes()):
            return False
        parents = Path(os.path.realpath(path)).parents
        return any(folder in parents for folder in extensions)

    def _made_afresh_by_reload_ui(self, module: types.ModuleType) -> bool:
        extensions = self._extensions()
        name = module.__dict__.get("__name__")
        imported = isinstance(name, str) and sys.modules.get(name) is module
        return self._executed_again(module, extensions) or (imported and self._imported_again(name, module, extensions))

    def _settle_reloaded(self) -> None:
        """A failing file that Reload UI made a module of afresh runs the file's code now: it no
        longer fails. One whose new module is not there (its import failed: the webui's console
        says why) still does."""
        for path, stale in list(self._awaiting.items()):
            fresh = [module for module in modules_from_file(path, among=self.store.modules())
                     if self.store.knows(module) and not any(ref() is module for ref in stale)]
            if not fresh:
                continue
            del self._awaiting[path]
            if self.failing.pop(path, None) is not None:
                names = sorted({str(module.__dict__.get("__name__", "?")) for module in fresh})
                self.reporter.publish(Path(path), "updated",
                                      f"Reload UI loaded {', '.join(names)} afresh: it runs this file's code now",
                                      changed=tuple({"name": name, "kind": "module", "action": "loaded afresh"}
                                                    for name in names))

    def check_importable(self) -> None:
        """Without a webui only live files import the tree's modules: say so when they cannot, as
        neither the folder (its modules) nor its parent (the folder as a package) is on sys.path."""
        on_path = {os.path.realpath(entry or os.getcwd()) for entry in list(sys.path) if isinstance(entry, str)}
        if not {str(self.folder), str(self.folder.parent)} & on_path:
            self.reporter.notice(f"neither {self.folder} nor {self.folder.parent} is on sys.path, so live files "
                                 "cannot import its modules: add one of them to PYTHONPATH", "info")

    # -- the status view ------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "label": self.reporter.prefix,
                "updated": dict(sorted(self.updated.items()))}

    # -- sources ----------------------------------------------------------------------------
    def _script_modules(self) -> list[types.ModuleType]:
        return list(self.host.script_modules())

    def _prefixes(self) -> tuple[str, ...]:
        return tuple(os.path.join(form, "") for form in (str(self.folder), *self._forms))

    def _tracked_modules(self) -> list[types.ModuleType]:
        prefixes = self._prefixes()
        loaded = [*list(sys.modules.values()), *self._script_modules()]
        return [module for module in loaded if isinstance(module, types.ModuleType)
                and (module_file(module) or "").startswith(prefixes) and self.store.knows(module)]

    def _source_changed(self, path: Path) -> None:
        if path.parent == self.folder and path.name in STARTUP_FILES:
            self.reporter.publish(path, "info", f"{path.name} runs only {STARTUP_FILES[path.name]}: nothing ran "
                                  "(restart the webui to apply it)", needs="restart")
            return
        self.store.snapshot_loaded(self.folder, self._script_modules(), self._forms)  # imported since the last look
        # Only the modules it knows can be updated: no scan of the thousands the webui has loaded.
        modules = modules_from_file(path, among=self.store.modules())
        if not modules:
            if str(path) in self._awaiting and str(path) in self.failing:  # Reload UI did not load it again
                needs = self._what_rebuilds_the_page()
                how = "Reload UI" if needs == "reload_ui" else "restart"
                self._fail(path, "no module runs it now: the last Reload UI did not load it again (if importing "
                           f"it failed, the webui's console says why); {how} to load it", needs=needs)
            elif str(path) not in self._said_not_loaded:
                self._said_not_loaded.add(str(path))
                if self.host.loads_extensions:
                    log.debug("[Hot Reload] %s: no loaded module comes from it; nothing runs", path)
                else:  # only live files import it here: the user may wonder why nothing happened
                    self.reporter.publish(path, "info", "no loaded module comes from it, so nothing ran: a live "
                                          "file must import it first (said once per file)")
            return
        self._awaiting.pop(str(path), None)  # what this save does is said now
        if not path.exists():
            # Deleted (or renamed away): nothing to apply, and nothing failing; the module goes on.
            self.failing.pop(str(path), None)
            names = ", ".join(sorted({str(module.__dict__.get("__name__", "?")) for module in modules}))
            self.reporter.publish(path, "info", f"deleted: {names} keeps running the code it has until the webui "
                                  "loads it again (Reload UI or a restart)")
            return
        try:
            text = read_text(path)
        except (OSError, SourceTooLarge) as error:
            self._fail(path, f"cannot read it: {error} (the module is as it was)", error=error_info(error, str(path)))
            return
        except (ValueError, SyntaxError) as error:  # undecodable: the engine would only say the same
            self._fail(path, f"{type(error).__name__}: {error} (the module is as it was)",
                       error=error_info(error, str(path)))
            return
        self.failing.pop(str(path), None)
        results = [self.store.update(module, text, self.host.held_callables) for module in modules]
        applied = [result for result in results if result.ok]
        if applied:
            self._report_updated(path, applied)
        for module, result in zip(modules, results, strict=True):
            if not result.ok:
                self._report_failed(path, result, module)

    def _fail(self, path: Path, message: str, **fields: Any) -> None:
        self.failing[str(path)] = self.reporter.publish(path, "error", message, **fields)

    def _what_rebuilds_the_page(self) -> str:
        """What an event asks for when the page must be built again: Reload UI, or a restart where
        the host has none in process (SD.Next, --nowebui, the standalone command)."""
        return "restart" if self.host.why_no_reload_ui() else "reload_ui"

    def _how_to_apply(self, module: types.ModuleType) -> tuple[str, str]:
        """What a change refused in place needs (an event's `needs`), and how to say it: Reload UI
        where it makes `module` afresh; else a restart (no Reload UI in process: SD.Next,
        --nowebui, the command; or a module Reload UI keeps: hot reload's own, preload.py, one of
        a tree that is no extension)."""
        if self.host.why_no_reload_ui():
            return "restart", "restart to apply"
        if self._made_afresh_by_reload_ui(module):
            return "reload_ui", "Reload UI to apply: it loads the extension's modules afresh"
        return "restart", "restart to apply: Reload UI does not load this module again"

    def _report_updated(self, path: Path, results: list[UpdateResult]) -> None:
        """One event per save, also when the host runs the file as more than one module (a script it
        executes from file that is imported too): the modules named together, each change once. What
        the update means for the page is worked out once: rebuilt in place, or waiting for Reload UI."""
        modules = tuple(result.module for result in results)
        for module in modules:
            self.updated[module] = self.updated.get(module, 0) + 1
        self.host.after_update()
        changed: dict[str, Change] = {}  # by the name within its module
        for result in results:
            for change in result.changed:
                changed.setdefault(change.name.removeprefix(result.module + "."), change)
        changed_fields = tuple({"name": c.name, "kind": c.kind, "action": c.action} for c in changed.values())
        notes = list(dict.fromkeys(note for result in results for note in result.notes))
        duration_ms = sum(result.duration_ms for result in results)
        what = ", ".join(f"{c.name} ({c.kind} {c.action})" for c in changed.values()) or "nothing changed"
        message = f"updated {' and '.join(modules)} in {duration_ms:.1f} ms: {what}"
        page = self.host.rebuild_page([function for result in results for function in result.updated_functions],
                                      (str(self.folder), *self._forms))
        if page.error is not None:
            info = error_info(page.error, str(path))
            self._fail(path, f"{message}; rebuilding its UI failed, the page is as it was: {info.summary}",
                       duration_ms=duration_ms, modules=modules, changed=changed_fields, notes=tuple(notes),
                       error=info)
            return
        # What a function that just ran again with a builder made inside itself is made anew: nothing
        # keeps its old code.
        notes = [note for note in notes if not any(note.endswith(f"until {name} runs again") for name in page.ran)]
        notes[:0] = page.notes
        needs = ""
        if page.waiting:
            needs = self._what_rebuilds_the_page()
            how = "Reload UI" if needs == "reload_ui" else "restart the webui"
            notes.insert(0, f"{', '.join(page.waiting)} built the page: {how} to see what they make now")
        elif page.rebuilt:
            needs = "reload_now"
        if page.rebuilt:
            message += f"; rebuilt {', '.join(page.rebuilt)} in place"
        self.reporter.publish(path, "updated", message, duration_ms=duration_ms, modules=modules,
                              changed=changed_fields, notes=tuple(notes), needs=needs,
                              rerender=page.rerender if needs == "reload_now" else (), ui=page.page_build)

    def _report_failed(self, path: Path, result: UpdateResult, module: types.ModuleType) -> None:
        if result.status == "refused":
            needs, how = self._how_to_apply(module)
            self._fail(path, f"cannot update {result.module} in place: {result.reason}; it is as it was ({how})",
                       duration_ms=result.duration_ms, modules=(result.module,), notes=tuple(result.notes), needs=needs)
        else:
            assert result.error is not None
            self._fail(path, f"{result.error.summary} ({result.module} is as it was)",
                       duration_ms=result.duration_ms, modules=(result.module,), notes=tuple(result.notes),
                       error=result.error)

    # -- page assets ------------------------------------------------------------------------
    def _asset_changed(self, path: Path, kind: str) -> None:
        if not path.is_file():
            return  # a stylesheet or script deleted: the pages keep what they loaded
        self.host.refresh_assets()  # so that every later page load links the new version
        if kind == "css":
            self.reporter.publish(path, "updated", "stylesheet changed: the open pages use the new one",
                                  asset="css", url=self.host.asset_url(str(path)))
        else:
            self.reporter.publish(path, "updated", "JavaScript changed: reload the page to run it", asset="js",
                                  needs="reload_page")


class Tracking:
    """The tracked trees of one reloader, each watched by a supervisor of its own (a tree that goes
    away leaves the others and the live folder watched). Changed only on the worker's thread:
    `want()` (any thread) asks, the worker `apply()`s at its next turn."""

    def __init__(self, events: EventLog, host: HostHooks, timings: Timings, options: ObserverOptions) -> None:
        self.events = events
        self.host = host
        self.timings = timings
        self.options = options
        self.store = SourceStore()
        self.trees: dict[Path, tuple[TrackedTree, WatchSupervisor]] = {}
        self._wanted: list[Path] | None = None
        self._lock = threading.Lock()

    def want(self, folders: list[Path]) -> None:
        with self._lock:
            self._wanted = list(dict.fromkeys(folders))

    @property
    def asked(self) -> bool:
        return self._wanted is not None

    def apply(self) -> bool:
        """Start and stop trees as last asked; True when the set changed."""
        with self._lock:
            wanted, self._wanted = self._wanted, None
        if wanted is None:
            return False
        for folder in [folder for folder in self.trees if folder not in wanted]:
            _tree, supervisor = self.trees.pop(folder)
            supervisor.stop()
            log.info("[Hot Reload] no longer tracking %s", folder)
        for folder in [folder for folder in wanted if folder not in self.trees]:
            reporter = Reporter(self.events, folder, prefix=folder.name)
            tree = TrackedTree(folder, self.store, reporter, self.host)
            supervisor = WatchSupervisor(
                folder, self.options, reporter, self.timings, suffixes=TRACKED_SUFFIXES, what="the tracked folder",
                when_gone="its modules keep their last update", on_resumed=lambda tree=tree: tree.sync(again=False))
            supervisor.check(first=True)
            tree.sync(again=True)
            # Listed (the status shows it tracked) once what its modules run is known: an edit made
            # after the status says so is compared with the text before it, never taken as the start.
            self.trees[folder] = (tree, supervisor)
            supervisor.announce()
            if not self.host.loads_extensions:
                tree.check_importable()
        return True

    def roots(self) -> list[TrackedTree]:
        """Innermost first: a tree inside another one owns its own files."""
        return [tree for folder, (tree, _) in sorted(self.trees.items(), key=lambda item: -len(item[0].parts))]

    def folders(self) -> list[Path]:
        return list(self.trees)

    def supervisors(self) -> list[WatchSupervisor]:
        return [supervisor for _tree, supervisor in list(self.trees.values())]

    def check(self) -> None:
        for _tree, supervisor in list(self.trees.values()):
            supervisor.check()

    def drop_modules(self) -> list[str]:
        """Before the host's Reload UI: every tree's modules that it will import afresh are taken out
        of sys.modules (TrackedTree.drop_modules); returns their names."""
        dropped = [name for tree, _supervisor in list(self.trees.values()) for name in tree.drop_modules()]
        if dropped:
            log.info("[Hot Reload] Reload UI: the tracked modules are loaded afresh: %s", ", ".join(sorted(dropped)))
        return dropped

    def remember_new_modules(self) -> None:
        """Snapshot the trees' modules imported since the last look (by a live file that just ran,
        by the webui on first use): an edit is compared with what the module runs, so that must be
        read before the file is edited."""
        for tree, _supervisor in list(self.trees.values()):
            tree.sync(again=True)

    def stop(self) -> None:
        """Stop watching (the reloader winds down); `want()` again to track after a restart."""
        with self._lock:
            if self._wanted is None:
                self._wanted = list(self.trees)
        for _tree, supervisor in self.trees.values():
            supervisor.stop()
        self.trees.clear()

    def status(self) -> list[dict[str, Any]]:
        return [{**tree.status(), "mode": supervisor.mode, "mode_reason": supervisor.mode_reason}
                for tree, supervisor in self.trees.values()]

    def failures(self) -> list[ReloadEvent]:
        """The error of each tracked file whose last save could not be applied, in path order."""
        failing = {path: event for tree, _ in list(self.trees.values()) for path, event in tree.failing.items()}
        return [failing[path] for path in sorted(failing)]
