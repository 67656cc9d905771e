"""The patch registry: who replaced what, how to undo it, and nothing ever lost.

Every replaced target is a *slot* holding a stack of *layers*, one per `replace()` call, each
owned by the live file that made it (or by "<manual>" when called from elsewhere). The top layer
is what runs; removing any layer re-applies what is left, down to the exact original object.

Two kinds of slot:
- in place: the target is a Python function; its code forwards to the top layer (see inplace.py),
  so every alias sees the change;
- attribute: anything else (builtins, classes, constants, C callables); the attribute is set and
  the event says that aliases keep the old object.

A live file's run is a transaction: its old layers are removed before it runs; if it fails, the
layers it made are removed and the old ones go back where they were.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .inplace import InPlacePatch, unwrap_patchable

MANUAL_OWNER = "<manual>"
ATTRIBUTE_ONLY_NOTE = "attribute only: aliases keep the old object"
_MISSING = object()


@dataclass(frozen=True)
class ReplacementInfo:
    """What one replace() did, as shown in events and the status view."""

    target: str
    mode: str  # "in-place" or "attribute"
    note: str = ""


@dataclass
class Layer:
    owner: str
    new: Any
    info: ReplacementInfo
    since: float


class Slot:
    label: str
    layers: list[Layer]

    def apply(self) -> str:
        """Make the top layer (or the original) effective; returns a note when something was kept."""
        raise NotImplementedError

    def original_value(self) -> Any:
        raise NotImplementedError


class InPlaceSlot(Slot):
    def __init__(self, label: str, func: types.FunctionType, caches: list[Any]) -> None:
        self.label = label
        self.layers = []
        self.patch = InPlacePatch(func)
        self.caches = caches

    def apply(self) -> str:
        func = self.patch.func
        if func.__code__ is not self.patch.original_code and func.__code__ is not self.patch.trampoline:
            return f"another tool changed the code of {self.label}; kept its change"
        if self.layers:
            self.patch.activate(self.layers[-1].new)
        else:
            self.patch.deactivate()
        for cache in self.caches:
            cache.cache_clear()
        return ""

    def original_value(self) -> Any:
        return self.patch.original


class AttributeSlot(Slot):
    def __init__(self, label: str, owner: Any, name: str) -> None:
        self.label = label
        self.layers = []
        self.owner = owner
        self.name = name
        self.original = _raw_attribute(owner, name)
        self.last_set = self.original

    def _effective(self) -> Any:
        if not self.layers:
            return self.original
        new = self.layers[-1].new
        # A plain function put on a class in place of a staticmethod/classmethod keeps that kind,
        # so calls through instances bind the way they did before.
        if isinstance(self.original, (staticmethod, classmethod)) and isinstance(new, types.FunctionType):
            return type(self.original)(new)
        return new

    def apply(self) -> str:
        current = _raw_attribute(self.owner, self.name)
        if current is not self.last_set:
            return f"another patch on {self.label} was applied after ours; kept it"
        value = self._effective()
        if value is _MISSING:
            with contextlib.suppress(AttributeError):
                delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, value)
        self.last_set = value
        return ""

    def original_value(self) -> Any:
        return None if self.original is _MISSING else self.original


def _raw_attribute(owner: Any, name: str) -> Any:
    """The attribute as stored on `owner` itself (a staticmethod stays a staticmethod)."""
    namespace = getattr(owner, "__dict__", None)
    if isinstance(namespace, (dict, types.MappingProxyType)):
        return namespace.get(name, _MISSING)
    return getattr(owner, name, _MISSING)


def _lookup(owner: Any, name: str) -> Any:
    """The attribute as Python resolves it, but without binding descriptors (classes: along the MRO)."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in vars(klass):
                return vars(klass)[name]
        return _MISSING
    value = _raw_attribute(owner, name)
    if value is _MISSING:
        value = getattr(owner, name, _MISSING)
    return value


def describe(owner: Any, name: str) -> str:
    if isinstance(owner, types.ModuleType):
        return f"{owner.__name__}.{name}"
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{name}"
    return f"{type(owner).__module__}.{type(owner).__qualname__}(instance).{name}"


def _name_of(owner: Any, target: Any) -> str:
    """The attribute name under which `owner` holds `target` (a function object, method, ...)."""
    if isinstance(target, str):
        return target
    candidates: list[dict[str, Any]] = []
    if isinstance(owner, type):
        candidates = [dict(vars(klass)) for klass in owner.__mro__]
    else:
        candidates = [dict(getattr(owner, "__dict__", {}) or {})]
        candidates += [dict(vars(klass)) for klass in type(owner).__mro__]
    wanted = getattr(target, "__func__", target)
    for namespace in candidates:
        for name, value in namespace.items():
            if value is target or getattr(value, "__func__", _MISSING) is wanted:
                return name
    label = getattr(owner, "__name__", type(owner).__name__)
    raise AttributeError(f"{getattr(target, '__qualname__', target)!r} is not an attribute of {label}")


def resolve_dotted(path: str) -> tuple[Any, str]:
    """'pkg.mod.Class.attr' -> (pkg.mod.Class, 'attr'), importing the longest module prefix."""
    parts = path.split(".")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"replace({path!r}, ...): expected a dotted path like 'package.module.function'")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:-1]:
            owner = getattr(owner, attribute)
        return owner, parts[-1]
    raise ImportError(f"replace({path!r}, ...): no importable module in that path")


class Replacement:
    """The handle replace() returns."""

    def __init__(self, registry: PatchRegistry, slot: Slot, layer: Layer) -> None:
        self._registry = registry
        self._slot = slot
        self._layer = layer

    @property
    def target(self) -> str:
        return self._layer.info.target

    @property
    def mode(self) -> str:
        return self._layer.info.mode

    @property
    def original(self) -> Any:
        """The pre-patch behaviour: call it from the replacement to wrap the original."""
        return self._slot.original_value()

    def restore(self) -> None:
        self._registry.remove_layers(lambda slot, layer: layer is self._layer)


@dataclass
class Transaction:
    owner: str
    removed: list[tuple[Slot, int, Layer]]
    replaced: list[ReplacementInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class PatchRegistry:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._slots: dict[Any, Slot] = {}
        self._local = threading.local()
        _all_registries.add(self)

    # -- who is replacing -------------------------------------------------------------------
    @property
    def current_owner(self) -> str:
        transaction = getattr(self._local, "transaction", None)
        return transaction.owner if transaction else MANUAL_OWNER

    @contextlib.contextmanager
    def transaction(self, owner: str) -> Iterator[Transaction]:
        """Run a live file's body: its old layers are lifted first, and come back if it fails."""
        with self._lock:
            removed = self._take_layers(lambda slot, layer: layer.owner == owner)
            transaction = Transaction(owner=owner, removed=removed)
            self._apply_all({slot for slot, _, _ in removed}, transaction.notes)
            outer = getattr(self._local, "transaction", None)
            self._local.transaction = transaction
            outer_registry = getattr(_running, "registry", None)
            _running.registry = self
        try:
            yield transaction
        except BaseException:
            with self._lock:
                failed = self._take_layers(lambda slot, layer: layer.owner == owner)
                self._apply_all({slot for slot, _, _ in failed}, transaction.notes)
                restored: set[Slot] = set()
                for slot, index, layer in removed:
                    # The slot may have been forgotten while empty and re-created by another
                    # replace(): the layer goes back into whichever object now stands for it.
                    live = self._slots.setdefault(self._key_of(slot), slot)
                    live.layers.insert(min(index, len(live.layers)), layer)
                    restored.add(live)
                self._apply_all(restored, transaction.notes)
            raise
        finally:
            self._local.transaction = outer
            _running.registry = outer_registry

    # -- the public operations ----------------------------------------------------------------
    def replace(self, owner: Any, target: Any, new: Any) -> Replacement:
        if isinstance(owner, str):
            owner, name = resolve_dotted(owner)
        else:
            name = _name_of(owner, target)
        current = _lookup(owner, name)
        if current is _MISSING:
            raise AttributeError(f"{describe(owner, name)} does not exist; nothing replaced")
        if new is current:
            raise ValueError(f"replace({describe(owner, name)}): the replacement is the current object")
        label = describe(owner, name)
        attribute_key = ("attr", id(owner), name)
        func, caches = unwrap_patchable(current) if callable(new) else (None, [])
        reason = _attribute_reason(current)
        if attribute_key in self._slots:
            func, reason = None, self._slots[attribute_key].layers[-1].info.note or reason
        elif func is not None and isinstance(owner, type) and name not in vars(owner):
            func, reason = None, f"{ATTRIBUTE_ONLY_NOTE} (inherited: set on {owner.__qualname__} only)"
        new_callable = new
        if func is not None and func is not current:
            # The target sits behind decorators; a replacement decorated the same way is unwrapped
            # so the decorators run once, around the new code.
            new_callable = inspect.unwrap(getattr(new, "__func__", new))
        elif isinstance(new, (staticmethod, classmethod)):
            new_callable = new.__func__
        with self._lock:
            if func is not None and new_callable is not func:
                slot = self._slots.get(("fn", id(func)))
                if slot is None:
                    slot = self._slots[("fn", id(func))] = InPlaceSlot(label, func, caches)
                info = ReplacementInfo(label, "in-place")
                value = new_callable
            else:
                slot = self._slots.get(attribute_key)
                if slot is None:
                    slot = self._slots[attribute_key] = AttributeSlot(label, owner, name)
                info = ReplacementInfo(label, "attribute", reason)
                value = new
            layer = Layer(self.current_owner, value, info, since=time.time())
            slot.layers.append(layer)
            transaction = getattr(self._local, "transaction", None)
            note = slot.apply()
            if note:
                info = ReplacementInfo(label, info.mode, note)
                layer.info = info
            if transaction is not None:
                transaction.replaced.append(info)
            return Replacement(self, slot, layer)

    def restore(self, owner: Any, target: Any = None) -> bool:
        """Remove the newest layer on a target (the caller's own, when it has one)."""
        if isinstance(owner, str) and target is None:
            owner, name = resolve_dotted(owner)
        else:
            name = _name_of(owner, target)
        with self._lock:
            slot = self._find_slot(owner, name)
            if slot is None or not slot.layers:
                return False
            mine = [layer for layer in slot.layers if layer.owner == self.current_owner]
            chosen = (mine or slot.layers)[-1]
            self.remove_layers(lambda s, layer: layer is chosen)
            return True

    def restore_all(self) -> list[str]:
        return self.remove_layers(lambda slot, layer: True)

    def drop_owner(self, owner: str) -> list[str]:
        """Undo everything a live file replaced (it was deleted, or is about to run again)."""
        return self.remove_layers(lambda slot, layer: layer.owner == owner)

    def remove_layers(self, predicate: Callable[[Slot, Layer], bool]) -> list[str]:
        """Remove matching layers; returns the labels of the targets that changed, plus notes."""
        with self._lock:
            removed = self._take_layers(predicate)
            notes: list[str] = []
            slots = {slot for slot, _, _ in removed}
            self._apply_all(slots, notes)
            return sorted({slot.label for slot in slots}) + notes

    def original(self, obj: Any) -> Any:
        """What `obj` did before any replacement (itself, when it was never replaced)."""
        with self._lock:
            func = getattr(obj, "__func__", obj)
            slot = self._slots.get(("fn", id(func)))
            if isinstance(slot, InPlaceSlot):
                clone = slot.patch.original
                return types.MethodType(clone, obj.__self__) if isinstance(obj, types.MethodType) else clone
            inner, _ = unwrap_patchable(obj)
            for slot in self._slots.values():
                if isinstance(slot, AttributeSlot) and any(layer.new is obj for layer in slot.layers):
                    return slot.original_value()
                if isinstance(slot, InPlaceSlot) and inner is slot.patch.func:
                    return slot.patch.original
            return obj

    def active(self) -> list[dict[str, Any]]:
        """Every active layer, oldest first, for the status view."""
        with self._lock:
            rows = []
            for slot in self._slots.values():
                for depth, layer in enumerate(slot.layers):
                    rows.append({
                        "target": layer.info.target, "mode": layer.info.mode, "note": layer.info.note,
                        "owner": layer.owner, "since": layer.since, "depth": depth,
                    })
            return sorted(rows, key=lambda row: row["since"])

    def owners(self) -> set[str]:
        with self._lock:
            return {layer.owner for slot in self._slots.values() for layer in slot.layers}

    # -- internals --------------------------------------------------------------------------
    def _find_slot(self, owner: Any, name: str) -> Slot | None:
        slot = self._slots.get(("attr", id(owner), name))
        if slot is not None:
            return slot
        func, _ = unwrap_patchable(_lookup(owner, name))
        return self._slots.get(("fn", id(func))) if func is not None else None

    @staticmethod
    def _key_of(slot: Slot) -> Any:
        if isinstance(slot, InPlaceSlot):
            return ("fn", id(slot.patch.func))
        assert isinstance(slot, AttributeSlot)
        return ("attr", id(slot.owner), slot.name)

    def _take_layers(self, predicate: Callable[[Slot, Layer], bool]) -> list[tuple[Slot, int, Layer]]:
        taken: list[tuple[Slot, int, Layer]] = []
        for slot in list(self._slots.values()):
            for index in range(len(slot.layers) - 1, -1, -1):
                layer = slot.layers[index]
                if predicate(slot, layer):
                    del slot.layers[index]
                    taken.append((slot, index, layer))
        taken.reverse()
        return taken

    def _apply_all(self, slots: set[Slot], notes: list[str]) -> None:
        for slot in slots:
            note = slot.apply()
            if note:
                notes.append(note)
            if not slot.layers:
                # Forget empty slots so old modules and functions can be freed.
                self._slots.pop(self._key_of(slot), None)


def _attribute_reason(current: Any) -> str:
    if isinstance(current, type):
        kind = "a class"
    elif isinstance(current, (types.BuiltinFunctionType, types.WrapperDescriptorType, types.MethodDescriptorType)):
        kind = "a builtin"
    elif not callable(current):
        kind = "not a function"
    else:
        kind = f"a {type(current).__name__}"
    return f"{ATTRIBUTE_ONLY_NOTE} ({kind})"


_registry: PatchRegistry | None = None
_registry_lock = threading.Lock()
# The registry whose transaction runs a live file on this thread: the module-level API below
# talks to it, so a reloader with its own registry (tests, benchmarks) owns what its files replace.
_running = threading.local()
_all_registries: weakref.WeakSet[PatchRegistry] = weakref.WeakSet()


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


def replace(owner: Any, target: Any = None, new: Any = None) -> Any:
    """Replace `owner.target` with `new`; owned by the live file that calls it.

    Forms: `replace(module_or_class_or_object, "name" | current_object, new)`,
    `replace("package.module.Class.attr", new)`, and as a decorator without `new`:
    `@replace(module, "name")`.
    """
    if isinstance(owner, str) and new is None and target is not None and not isinstance(target, str):
        return get_registry().replace(owner, None, target)
    if new is None:
        def decorator(function: Any) -> Any:
            get_registry().replace(owner, target, function)
            return function
        return decorator
    return get_registry().replace(owner, target, new)


def restore(owner: Any, target: Any = None) -> bool:
    return get_registry().restore(owner, target)


def restore_all() -> list[str]:
    return get_registry().restore_all()


def original(obj: Any) -> Any:
    """What `obj` did before it was replaced. Called at any time from any thread, so every
    registry of the process is asked (tests and benchmarks run reloaders with their own)."""
    for registry in [get_registry(), *_all_registries]:
        found = registry.original(obj)
        if found is not obj:
            return found
    return obj
