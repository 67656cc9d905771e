"""The patch registry: who replaced what, how to undo it, and nothing ever lost.

Every replaced target is a *slot* holding a stack of *layers*, one per `replace()` call, each
owned by the live file that made it (or by "<manual>" when called from elsewhere). The top layer
is what runs; removing any layer re-applies what is left, down to the exact original object.

Two kinds of slot:
- in place: the target is a Python function; its code forwards to the top layer (see inplace.py),
  so every alias sees the change;
- attribute: anything else (builtins, classes, constants, C callables, a name inherited from a base
  class, a method replaced for one instance); the attribute is set and the note says that aliases
  keep the old object.

Chain safety: when another tool changed a target after us (set the attribute again, or put its own
code on the function), its change wins: we never write over it, our slot lets go of the target, and
a note says so. A live file's run is a transaction: its old layers are removed before it runs; if
it fails, the layers it made are removed and the old ones go back where they were.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .inplace import InPlacePatch, unwrap_patchable
from .pristine import BUILTINS
from .targets import (
    ATTRIBUTE_ONLY_NOTE,
    MISSING,
    Site,
    adapted,
    attribute_reason,
    bound,
    check_settable,
    in_place_target,
    kind_mismatch,
    locate,
    refuse_engine_target,
    resolve_target,
    with_target_class,
)

__builtins__ = BUILTINS  # a live file that replaces a builtin never reaches this code (pristine.py)

__all__ = ["ATTRIBUTE_ONLY_NOTE", "MANUAL_OWNER", "PatchRegistry", "Replacement", "original", "replace", "restore",
           "restore_all"]
MANUAL_OWNER = "<manual>"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplacementInfo:
    """What one replace() did, as shown in events and the status view."""

    target: str
    mode: str  # "in-place" or "attribute"
    note: str = ""


@dataclass(eq=False)
class Layer:
    owner: str
    new: Any  # in place: what the trampoline calls; attribute: the value set
    info: ReplacementInfo
    since: float
    site: Site


class Slot:
    label: str
    layers: list[Layer]
    key: tuple[Any, ...]  # where the registry files it: one slot per function object, or per attribute

    def apply(self) -> None:
        """Make the top layer (or the original) effective."""
        raise NotImplementedError

    def is_foreign(self) -> bool:
        """Another tool changed the target since we last applied: we must not write over it."""
        raise NotImplementedError

    def release(self) -> None:
        """Let go of the target, leaving the other tool's change as it is."""
        raise NotImplementedError

    def callable_original(self, site: Site) -> Any:
        """The original, in the form `owner.name` gave it before the patch (a classmethod bound)."""
        raise NotImplementedError


CallFailed = Callable[[str, str, BaseException], None]  # (owner, target, the exception)


class InPlaceSlot(Slot):
    def __init__(self, label: str, func: types.FunctionType, caches: list[Any], report: CallFailed) -> None:
        self.label = label
        self.layers = []
        self.patch = InPlacePatch(func)
        self.caches = caches
        self.key = ("fn", id(func))
        self.report = report

    def apply(self) -> None:
        if self.layers:
            top = self.layers[-1]
            self.patch.dispatcher.on_error = lambda error: self.report(top.owner, top.info.target, error)
            self.patch.activate(top.new)
        else:
            self.patch.deactivate()
        self._clear_caches()

    def is_foreign(self) -> bool:
        return not self.patch.ours

    def release(self) -> None:
        self.patch.retire()
        self._clear_caches()

    def callable_original(self, site: Site) -> Any:
        clone = self.patch.original
        return types.MethodType(clone, site.owner) if isinstance(site.current, classmethod) else clone

    def _clear_caches(self) -> None:
        # The cached results came from the code that ran before: callers must not get them.
        for cache in self.caches:
            cache.cache_clear()


class AttributeSlot(Slot):
    def __init__(self, site: Site, reason: str) -> None:
        self.label = site.label
        self.reason = reason  # why not in place: every layer on this attribute carries it
        self.layers = []
        self.site = site
        self.original = site.read()  # what goes back; MISSING: the name is deleted again
        self.last_set = self.original
        self.key = ("attr", id(site.owner), site.name)

    def apply(self) -> None:
        value = self.original if not self.layers else self.layers[-1].new
        if value is MISSING:
            with contextlib.suppress(AttributeError):
                delattr(self.site.owner, self.site.name)
        else:
            setattr(self.site.owner, self.site.name, value)
        self.last_set = value

    def is_foreign(self) -> bool:
        return self.site.read() is not self.last_set

    def release(self) -> None:
        pass

    def callable_original(self, site: Site) -> Any:
        value = self.site.current if self.original is MISSING else self.original
        return bound(value, self.site)


class CallFailures:
    """Listeners (bound methods, held weakly: a stopped reloader is not kept alive) of exceptions
    raised by replacements while they are called."""

    def __init__(self) -> None:
        self._listeners: list[weakref.WeakMethod[CallFailed]] = []

    def listen(self, listener: CallFailed) -> None:
        self._listeners.append(weakref.WeakMethod(listener))  # type: ignore[arg-type]

    def __call__(self, owner: str, target: str, error: BaseException) -> None:
        for reference in list(self._listeners):
            listener = reference()
            if listener is not None:
                listener(owner, target, error)


class Replacement:
    """The handle replace() returns."""

    def __init__(self, registry: PatchRegistry, layer: Layer, original: Any) -> None:
        self._registry = registry
        self._layer = layer
        self._original = original

    @property
    def target(self) -> str:
        return self._layer.info.target

    @property
    def mode(self) -> str:
        return self._layer.info.mode

    @property
    def note(self) -> str:
        return self._layer.info.note

    @property
    def original(self) -> Any:
        """The target as it was before any replacement, called the way `owner.name` was: call it
        from the replacement to wrap the original without recursing into the replacement."""
        return self._original

    def restore(self) -> list[str]:
        """Undo this replacement (other layers on the same target stay); returns what changed."""
        return self._registry.remove_layers(lambda slot, layer: layer is self._layer)

    def __repr__(self) -> str:
        return f"<Replacement {self.target} ({self.mode})>"


@dataclass
class Transaction:
    owner: str
    removed: list[tuple[Slot, int, Layer]]
    made: list[tuple[Slot, Layer]] = field(default_factory=list)  # by replace() during the run
    replaced: list[ReplacementInfo] = field(default_factory=list)  # of those, what is still in place at the end
    notes: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # targets the last run replaced and this one does not
    undone: list[tuple[str, str]] = field(default_factory=list)  # (target, owner) its restore() calls removed


class SlotTable:
    """The slots of one registry, by key (one per function object, one per attribute): which slot a
    target gets, taking layers off, applying what is left, letting go of a target another tool changed.
    Used under the registry's lock."""

    def __init__(self, call_failures: CallFailed) -> None:
        self.slots: dict[Any, Slot] = {}
        self.call_failures = call_failures

    def in_place(self, site: Site, new: Any, notes: list[str]) -> tuple[Slot, Any, ReplacementInfo] | None:
        """The in-place slot, the callable to forward to and the info, when `site` can be patched in place."""
        if ("attr", id(site.owner), site.name) in self.slots:
            return None
        chosen = in_place_target(site, new)
        if chosen is None:
            return None
        unwrapped, target = chosen
        func = unwrapped.func
        key = ("fn", id(func))
        slot = self.slots.get(key)
        if isinstance(slot, InPlaceSlot) and slot.is_foreign():
            notes.append(self.release(slot))
            slot = None
        if slot is None:
            slot = self.slots[key] = InPlaceSlot(site.label, func, [], self.call_failures)
        # The same function reached through another name may sit behind another cache.
        slot.caches += [cache for cache in unwrapped.caches if all(cache is not known for known in slot.caches)]
        notes += kind_mismatch(func, target)
        return slot, target, ReplacementInfo(site.label, "in-place", "; ".join(notes))

    def attribute(self, site: Site, new: Any, notes: list[str]) -> tuple[Slot, Any, ReplacementInfo]:
        key = ("attr", id(site.owner), site.name)
        slot = self.slots.get(key)
        if slot is not None and slot.is_foreign():
            notes.append(self.release(slot))
            slot = None
        if slot is None:
            check_settable(site)
            slot = self.slots[key] = AttributeSlot(site, attribute_reason(site, new))
        assert isinstance(slot, AttributeSlot)
        notes.insert(0, slot.reason)
        # Adapted to the attribute as it was before our first layer: the site now holds our value.
        return slot, adapted(new, slot.site), ReplacementInfo(site.label, "attribute", "; ".join(notes))

    def find(self, site: Site) -> Slot | None:
        """The slot replace() would have used for `site`. A name a subclass or an instance only
        inherits leads to nothing: restoring there must not undo the base class's replacement."""
        slot = self.slots.get(("attr", id(site.owner), site.name))
        if slot is not None or site.where != "own":
            return slot
        func = unwrap_patchable(site.current).func
        return self.slots.get(("fn", id(func))) if func is not None else None

    def take_layers(self, predicate: Callable[[Slot, Layer], bool], notes: list[str]) -> list[tuple[Slot, int, Layer]]:
        taken: list[tuple[Slot, int, Layer]] = []
        for slot in list(self.slots.values()):
            for index in range(len(slot.layers) - 1, -1, -1):
                layer = slot.layers[index]
                if predicate(slot, layer):
                    del slot.layers[index]
                    taken.append((slot, index, layer))
                    if isinstance(slot, InPlaceSlot) and self._reassigned_by_another_tool(layer.site):
                        # The function is back to its original code, but whatever another tool
                        # set on that attribute after us stays there.
                        notes.append(f"{layer.site.label} was set by another tool after our replacement; kept it"
                                     " (it now reaches the original code)")
        taken.reverse()
        return taken

    def _reassigned_by_another_tool(self, site: Site) -> bool:
        """The attribute no longer holds what we patched in place, and not because of our own
        attribute layer there (a later non-callable replacement of the same name)."""
        if site.read() is site.current:
            return False
        ours = self.slots.get(("attr", id(site.owner), site.name))
        return not (isinstance(ours, AttributeSlot) and site.read() is ours.last_set)

    def apply_all(self, slots: set[Slot], notes: list[str]) -> None:
        for slot in slots:
            if slot.is_foreign():
                notes.append(self.release(slot))
                continue
            slot.apply()
            if not slot.layers:
                # Forget empty slots so old modules and functions can be freed.
                self.slots.pop(slot.key, None)

    def release(self, slot: Slot) -> str:
        """Another tool changed the target after us: keep its change, forget ours on it."""
        owners = sorted({layer.owner for layer in slot.layers})
        slot.release()
        slot.layers.clear()
        self.slots.pop(slot.key, None)
        what = "code" if isinstance(slot, InPlaceSlot) else "value"
        dropped = f"; our replacements on it from {', '.join(owners)} are off" if owners else ""
        return f"another tool changed the {what} of {slot.label} after our replacement; kept its change{dropped}"


class PatchRegistry:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        # Told (owner, target, error) when a replacement patched in place raises while the webui
        # calls it, on the caller's thread.
        self.call_failures = CallFailures()
        self._table = SlotTable(self.call_failures)
        with _registries_lock:
            _all_registries.add(self)

    # -- who is replacing -------------------------------------------------------------------
    @property
    def current_owner(self) -> str:
        transaction = getattr(self._local, "transaction", None)
        return transaction.owner if transaction else MANUAL_OWNER

    @contextlib.contextmanager
    def transaction(self, owner: str) -> Iterator[Transaction]:
        """Run a live file's body: its old layers are lifted first, and come back if it fails.

        Attribute targets show their original while the file runs (a file that subclasses
        `module.Class` must get the original class, not its own last replacement). Functions
        patched in place keep running the old replacement until the run ends: the webui serves
        requests meanwhile, and a call there must go from the old code straight to the new one,
        never through the original for the length of a run.
        """
        with self._lock:
            transaction = Transaction(owner=owner, removed=[])
            transaction.removed = self._table.take_layers(lambda slot, layer: layer.owner == owner, transaction.notes)
            lifted = {slot for slot, _, _ in transaction.removed}
            in_place = {slot for slot in lifted if isinstance(slot, InPlaceSlot)}
            self._table.apply_all(lifted - in_place, transaction.notes)
            outer = getattr(self._local, "transaction", None)
            self._local.transaction = transaction
            outer_registry = getattr(_running, "registry", None)
            _running.registry = self
        try:
            yield transaction
            with self._lock:
                self._table.apply_all(in_place, transaction.notes)
                transaction.replaced = [layer.info for slot, layer in transaction.made
                                        if any(kept is layer for kept in slot.layers)]
                transaction.restored = sorted({slot.label for slot in lifted
                                               if not any(layer.owner == owner for layer in slot.layers)})
        except BaseException:
            with self._lock:
                failed = self._table.take_layers(lambda slot, layer: layer.owner == owner, [])
                changed = {slot for slot, _, _ in failed}
                for slot, index, layer in transaction.removed:
                    # The slot may have been forgotten while empty and re-created by another
                    # replace(): the layer goes back into whichever object now stands for it.
                    live = self._table.slots.setdefault(slot.key, slot)
                    live.layers.insert(min(index, len(live.layers)), layer)
                    changed.add(live)
                # Applied once, after the old layers are back: a target the failed run replaced
                # goes from that run's code straight back to the last good one.
                self._table.apply_all(changed, transaction.notes)
            raise
        finally:
            self._local.transaction = outer
            _running.registry = outer_registry

    # -- the public operations ----------------------------------------------------------------
    def replace(self, owner: Any, target: Any = None, new: Any = MISSING) -> Any:
        """Replace `owner.target` with `new`, owned by the live file running on this thread.

        Forms: `replace(module_or_class_or_object, "name" | current_object, new)`,
        `replace("package.module", "name", new)`, `replace("package.module.Class.attr", new)`, and
        as a decorator without `new`: `@replace(module, "name")`, `@replace("package.module.name")`.
        Returns a Replacement handle (the decorator returns the function it decorates).
        """
        if isinstance(owner, str) and new is MISSING and target is not None and not isinstance(target, str):
            target, new = None, target
        if new is MISSING:
            def decorator(function: Any) -> Any:
                self.replace(owner, target, function)
                return function
            return decorator
        return self._replace(owner, target, new)

    def _replace(self, owner: Any, target: Any, new: Any) -> Replacement:
        owner, name = resolve_target(owner, target)
        with self._lock:
            site = locate(owner, name)
            refuse_engine_target(site)
            new = with_target_class(new, site)
            if new is site.current:
                raise ValueError(f"replace({site.label}): the replacement is the current object")
            notes: list[str] = []
            slot, value, info = self._table.in_place(site, new, notes) or self._table.attribute(site, new, notes)
            layer = Layer(self.current_owner, value, info, since=time.time(), site=site)
            slot.layers.append(layer)
            try:
                slot.apply()
            except Exception:
                # e.g. a builtin type refuses new attributes: nothing of this call may stay behind.
                slot.layers.remove(layer)
                self._table.apply_all({slot}, [])
                raise
            transaction = getattr(self._local, "transaction", None)
            if transaction is not None:
                transaction.made.append((slot, layer))
            return Replacement(self, layer, slot.callable_original(site))

    def restore(self, owner: Any, target: Any = None) -> bool:
        """Remove the newest layer on a target (the caller's own, when it has one)."""
        owner, name = resolve_target(owner, target)
        with self._lock:
            slot = self._table.find(locate(owner, name))
            if slot is None or not slot.layers:
                return False
            mine = [layer for layer in slot.layers if layer.owner == self.current_owner]
            chosen = (mine or slot.layers)[-1]
            self.remove_layers(lambda s, layer: layer is chosen)
            return True

    def restore_all(self) -> list[str]:
        return self.remove_layers(lambda slot, layer: True)

    def drop_owner(self, owner: str) -> tuple[list[str], list[str]]:
        """Undo everything a live file replaced (it was deleted, or hot reload stops): the labels
        of the targets restored, and the notes (another tool's change kept)."""
        return self._remove_layers(lambda slot, layer: layer.owner == owner)

    def remove_layers(self, predicate: Callable[[Slot, Layer], bool]) -> list[str]:
        """Remove matching layers; returns the labels of the targets that changed, then the notes
        (another tool's change kept). The notes also go to the running live file's event, or the log."""
        labels, notes = self._remove_layers(predicate)
        return labels + notes

    def _remove_layers(self, predicate: Callable[[Slot, Layer], bool]) -> tuple[list[str], list[str]]:
        with self._lock:
            notes: list[str] = []
            removed = self._table.take_layers(predicate, notes)
            slots = {slot for slot, _, _ in removed}
            self._table.apply_all(slots, notes)
            self._report(notes)
            transaction = getattr(self._local, "transaction", None)
            if transaction is not None:  # a live file's own restore() / restore_all()
                transaction.undone += [(slot.label, layer.owner) for slot, _, layer in removed]
            return sorted({slot.label for slot in slots}), notes

    def original(self, obj: Any) -> Any:
        """What `obj` did before any replacement (itself, when it was never replaced).

        `obj` may be the replaced function or any alias of it (a bound method, the decorated
        function), or the replacement itself.
        """
        func = getattr(obj, "__func__", obj)
        with self._lock:
            slot = self._table.slots.get(("fn", id(func)))
            if slot is None:
                inner = unwrap_patchable(obj).func
                slot = self._table.slots.get(("fn", id(inner))) if inner is not None else None
            if slot is None:
                slot = next((s for s in self._table.slots.values() if any(
                    layer.new is obj or layer.new is func or getattr(layer.new, "__func__", None) is func
                    for layer in s.layers)), None)
            if isinstance(slot, InPlaceSlot):
                clone = slot.patch.original
                return types.MethodType(clone, obj.__self__) if isinstance(obj, types.MethodType) else clone
            if isinstance(slot, AttributeSlot):
                return slot.callable_original(slot.site)
            return obj

    def active(self) -> list[dict[str, Any]]:
        """Every active layer, oldest first, for the status view."""
        with self._lock:
            rows = []
            for slot in self._table.slots.values():
                for depth, layer in enumerate(slot.layers):
                    rows.append({
                        "target": layer.info.target, "mode": layer.info.mode, "note": layer.info.note,
                        "owner": layer.owner, "since": layer.since, "depth": depth,
                    })
            return sorted(rows, key=lambda row: row["since"])

    def owners(self) -> set[str]:
        with self._lock:
            return {layer.owner for slot in self._table.slots.values() for layer in slot.layers}

    def _report(self, notes: list[str]) -> None:
        transaction = getattr(self._local, "transaction", None)
        if transaction is not None:
            transaction.notes.extend(notes)
        else:
            for note in notes:
                log.warning("hot reload: %s", note)


_registry: PatchRegistry | None = None
_registry_lock = threading.Lock()
# The registry whose transaction runs a live file on this thread: the module-level API below
# talks to it, so a reloader with its own registry (tests, benchmarks) owns what its files replace.
_running = threading.local()
_all_registries: weakref.WeakSet[PatchRegistry] = weakref.WeakSet()
_registries_lock = threading.Lock()


def get_registry() -> PatchRegistry:
    """The registry of a live file running on this thread, else the process's registry."""
    running = getattr(_running, "registry", None)
    if running is not None:
        return running
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = PatchRegistry()
        return _registry


def replace(owner: Any, target: Any = None, new: Any = MISSING) -> Any:
    """Replace `owner.target` with `new`; owned by the live file that calls it.
    Every form of PatchRegistry.replace works here."""
    return get_registry().replace(owner, target, new)


def restore(owner: Any, target: Any = None) -> bool:
    return get_registry().restore(owner, target)


def restore_all() -> list[str]:
    return get_registry().restore_all()


def original(obj: Any) -> Any:
    """What `obj` did before it was replaced. Called at any time from any thread, so every
    registry of the process is asked (tests and benchmarks run reloaders with their own)."""
    with _registries_lock:
        # Not list(): it asks the WeakSet's len(), a builtin that the replacement calling this may wrap.
        others = [registry for registry in _all_registries]
    for registry in [get_registry(), *others]:
        found = registry.original(obj)
        if found is not obj:
            return found
    return obj
