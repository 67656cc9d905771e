"""Where a replace() target lives and how to put a value there: one job, no bookkeeping.

`locate` finds `owner.name` the way Python resolves it (own, inherited, through the class, only by
getattr) without calling descriptors; `resolve_*` turn the forms replace() accepts into (owner, name);
`adapted`/`bound` put a plain function into the form the attribute had (staticmethod, classmethod,
property, a method bound to an instance); `attribute_reason` says why a target cannot be patched in
place. The registry (registry.py) decides what to do with a Site; this module only describes it.
"""
from __future__ import annotations

import importlib
import types
from dataclasses import dataclass
from typing import Any

from .inplace import Unwrapped, clone_function, function_kind, strip_same_decorators, unwrap_patchable
from .pristine import BUILTINS

__builtins__ = BUILTINS  # a live file that replaces a builtin never reaches this code (pristine.py)

ATTRIBUTE_ONLY_NOTE = "attribute only: aliases keep the old object"
MISSING = object()
ENGINE_PACKAGE = "hotreload_lib"  # every stage of it
# The demo page's greet() exists to be replaced; every other module of the package is the engine.
REPLACEABLE_OWN_MODULES = frozenset({f"{ENGINE_PACKAGE}.demo"})
_KIND_NAMES = {
    "function": "a plain function", "coroutine": "an async function", "generator": "a generator function",
    "async_generator": "an async generator function",
}


@dataclass(eq=False)
class Site:
    """Where replace() found its target: `owner.name`, and how Python resolves that name.

    where: "own" (stored on the owner: module/class dict, instance dict or __slots__ entry),
    "inherited" (a class inherits it), "class" (an instance gets it from its class),
    "dynamic" (only `getattr` finds it: `__getattr__`, a metaclass).
    """

    owner: Any
    name: str
    label: str
    where: str
    current: Any  # the raw value found (a staticmethod stays a staticmethod)
    in_namespace: bool  # read and written through the owner's __dict__

    def read(self) -> Any:
        """The raw value at this site now (MISSING when it is not stored on the owner)."""
        if self.in_namespace:
            return namespace_of(self.owner).get(self.name, MISSING)  # type: ignore[union-attr]
        return getattr(self.owner, self.name, MISSING)


def namespace_of(owner: Any) -> dict[str, Any] | types.MappingProxyType[str, Any] | None:
    namespace = getattr(owner, "__dict__", None)
    return namespace if isinstance(namespace, (dict, types.MappingProxyType)) else None


def describe(owner: Any, name: str) -> str:
    if isinstance(owner, types.ModuleType):
        return f"{owner.__name__}.{name}"
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{name}"
    return f"{type(owner).__module__}.{type(owner).__qualname__}(instance).{name}"


def locate(owner: Any, name: str) -> Site:
    """Find `owner.name` the way Python resolves it, without calling descriptors."""
    label = describe(owner, name)
    namespace = namespace_of(owner)
    if namespace is not None and name in namespace:
        return Site(owner, name, label, "own", namespace[name], in_namespace=True)
    if isinstance(owner, type):
        for klass in owner.__mro__[1:]:
            if name in vars(klass):
                return Site(owner, name, label, "inherited", vars(klass)[name], in_namespace=True)
    elif not isinstance(owner, types.ModuleType):
        for klass in type(owner).__mro__:
            if name not in vars(klass):
                continue
            value = vars(klass)[name]
            if isinstance(value, types.MemberDescriptorType):  # a __slots__ entry: the value is the instance's
                current = getattr(owner, name, MISSING)
                if current is MISSING:
                    break
                return Site(owner, name, label, "own", current, in_namespace=False)
            return Site(owner, name, label, "class", value, in_namespace=namespace is not None)
    current = getattr(owner, name, MISSING)
    if current is MISSING:
        raise AttributeError(f"{label} does not exist")
    return Site(owner, name, label, "dynamic", current, in_namespace=False)


def refuse_engine_target(site: Site) -> None:
    """Hot reload's own code is not a target: a live file that replaced, say, the registry's undo
    would make deleting it, and Restore all, do nothing until a restart."""
    for obj in (site.owner, site.current):
        module = _module_name(obj)
        ours = module == ENGINE_PACKAGE or module.startswith(ENGINE_PACKAGE + ".")
        if ours and module not in REPLACEABLE_OWN_MODULES:
            raise ValueError(f"replace({site.label}): that is hot reload's own code ({module}), which cannot be "
                             "replaced: undoing and restoring your replacements depends on it; nothing replaced")


def _module_name(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, (staticmethod, classmethod, types.MethodType)):
        obj = obj.__func__
    elif isinstance(obj, property):
        obj = obj.fget
    module = getattr(obj, "__module__", None) if isinstance(obj, (type, types.FunctionType)) else None
    return module if isinstance(module, str) else type(obj).__module__


def name_of(owner: Any, target: Any) -> str:
    """The attribute name under which `owner` holds `target` (a function object, method, ...)."""
    if isinstance(target, str):
        return target
    klass = owner if isinstance(owner, type) else type(owner)
    candidates = [] if isinstance(owner, type) else [dict(namespace_of(owner) or {})]
    candidates += [dict(vars(base)) for base in klass.__mro__]
    wanted = getattr(target, "__func__", target)
    for namespace in candidates:
        for name, value in namespace.items():
            if value is target or getattr(value, "__func__", MISSING) is wanted:
                return name
    label = getattr(owner, "__name__", type(owner).__name__)
    raise AttributeError(f"{getattr(target, '__qualname__', target)!r} is not an attribute of {label}")


def resolve_object(path: str) -> Any:
    """'pkg.mod.Class' -> the object, importing the longest module prefix."""
    parts = path.split(".")
    if not all(parts):
        raise ValueError(f"{path!r} is not a dotted path like 'package.module.function'")
    for split in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute)
        return found
    raise ImportError(f"{path!r}: no importable module in that path")


def resolve_dotted(path: str) -> tuple[Any, str]:
    """'pkg.mod.Class.attr' -> (pkg.mod.Class, 'attr'), importing the longest module prefix."""
    head, _, name = path.rpartition(".")
    if not head or not name:
        raise ValueError(f"replace({path!r}, ...): expected a dotted path like 'package.module.function'")
    return resolve_object(head), name


def resolve_target(owner: Any, target: Any) -> tuple[Any, str]:
    """The (owner object, attribute name) that replace()/restore() were given, in any form."""
    if isinstance(owner, str):
        if target is None:
            return resolve_dotted(owner)
        owner = resolve_object(owner)
    if target is None:
        raise TypeError("replace()/restore(): name the target: (owner, 'name') or ('package.module.name')")
    return owner, name_of(owner, target)


def check_settable(site: Site) -> None:
    """An instance-level replacement needs somewhere to put the value; say clearly when there is none."""
    if site.where != "class":
        return
    if namespace_of(site.owner) is None:
        klass = type(site.owner).__qualname__
        raise TypeError(f"cannot replace {site.label}: {klass} instances have __slots__ and no __dict__; "
                        f"replace it on the class: replace({klass}, {site.name!r}, new)")
    if hasattr(type(site.current), "__set__"):
        raise TypeError(f"cannot replace {site.label} on the instance: its class defines it as a "
                        f"{type(site.current).__name__}; replace it on the class")


def adapted(new: Any, site: Site) -> Any:
    """`new` in the form the attribute had, so callers keep calling it the same way: a plain
    function put where a staticmethod/classmethod/property was keeps that kind, and one put on an
    instance in place of a method is bound to the instance."""
    template = site.current
    if not isinstance(new, types.FunctionType):
        return new
    if site.where == "class":
        if isinstance(template, staticmethod):
            return new
        klass = type(site.owner)
        if isinstance(template, classmethod):
            return types.MethodType(new, klass)
        if isinstance(template, types.FunctionType):
            return types.MethodType(new, site.owner)
        return new
    if isinstance(template, (staticmethod, classmethod)) and isinstance(site.owner, type):
        return type(template)(new)
    if isinstance(template, property) and isinstance(site.owner, type):
        return property(new, template.fset, template.fdel, template.__doc__)
    return new


def bound(value: Any, site: Site) -> Any:
    """`value` as `owner.name` hands it out (descriptors resolved for the site's owner)."""
    if isinstance(value, staticmethod):
        return value.__func__
    if isinstance(value, classmethod):
        return types.MethodType(value.__func__, site.owner if isinstance(site.owner, type) else type(site.owner))
    if site.where == "class" and isinstance(value, types.FunctionType):
        return types.MethodType(value, site.owner)
    return value


def attribute_reason(site: Site, new: Any) -> str:
    current = site.current
    if site.where == "inherited":
        base = next(klass for klass in site.owner.__mro__[1:] if site.name in vars(klass))
        why = f"inherited from {base.__qualname__}: set on {site.owner.__qualname__} only"
    elif site.where == "class":
        why = f"set on this instance only; replace it on {type(site.owner).__qualname__} to patch it in place"
    elif site.where == "dynamic":
        why = "found only through getattr"
    elif isinstance(current, type):
        why = "a class"
    elif isinstance(current, (types.BuiltinFunctionType, types.WrapperDescriptorType, types.MethodDescriptorType)):
        why = "a builtin"
    elif not callable(current) and not isinstance(current, (staticmethod, classmethod, property)):
        why = "not a function"
    elif not callable(strip_same_decorators(new, unwrap_patchable(current))):
        why = "the replacement is not callable"
    elif unwrap_patchable(current).func is not None:
        why = "the replacement is the function itself"
    else:
        slots = " with __slots__" if not hasattr(current, "__dict__") else ""
        why = f"a {type(current).__name__} object{slots}"
    return f"{ATTRIBUTE_ONLY_NOTE} ({why})"


def with_target_class(new: Any, site: Site) -> Any:
    """`new`, its `__class__` cell made the target's class where it named another one.

    Zero-argument `super()` reads that cell, which Python fills with the class whose body defined
    the method. A method taken from a copy of the target class (the natural way to edit one) names
    the copy, and `super()` then raises TypeError on every call on the target's instances. A method
    from a base of the target keeps its cell: `super()` works there as it would in that base.
    """
    klass = site.owner if isinstance(site.owner, type) else None
    if klass is None and not isinstance(site.owner, types.ModuleType):
        klass = type(site.owner)
    if klass is None:
        return new
    if isinstance(new, (staticmethod, classmethod)):
        inner = _function_in_class(new.__func__, klass)
        return new if inner is new.__func__ else type(new)(inner)
    if isinstance(new, property):
        parts = [_function_in_class(part, klass) if isinstance(part, types.FunctionType) else part
                 for part in (new.fget, new.fset, new.fdel)]
        return new if parts == [new.fget, new.fset, new.fdel] else property(*parts, new.__doc__)
    return _function_in_class(new, klass) if isinstance(new, types.FunctionType) else new


def _function_in_class(func: types.FunctionType, klass: type) -> types.FunctionType:
    names = func.__code__.co_freevars
    if "__class__" not in names or func.__closure__ is None:
        return func
    index = names.index("__class__")
    try:
        named = func.__closure__[index].cell_contents
    except ValueError:  # an empty cell: nothing to fix
        return func
    if not isinstance(named, type) or issubclass(klass, named):
        return func
    closure = list(func.__closure__)
    closure[index] = types.CellType(klass)
    return clone_function(func, func.__code__, tuple(closure))


def in_place_target(site: Site, new: Any) -> tuple[Unwrapped, Any] | None:
    """(the function to patch and what wraps it, the callable to forward to) when `site` can be
    patched in place with `new`; None when only the attribute can be set."""
    if site.where != "own":
        return None
    unwrapped = unwrap_patchable(site.current)
    if unwrapped.func is None:
        return None
    target = strip_same_decorators(new, unwrapped)
    if target is unwrapped.func or not callable(target):
        return None
    return unwrapped, target


def kind_mismatch(func: types.FunctionType, target: Any) -> list[str]:
    """A note when the replacement is another kind of function (an async def for a plain one):
    callers keep treating the target as its own kind."""
    new_kind = function_kind(target) if isinstance(target, types.FunctionType) else None
    old_kind = function_kind(func)
    if new_kind is None or new_kind == old_kind or (old_kind, new_kind) == ("coroutine", "function"):
        return []
    return [f"the original is {_KIND_NAMES[old_kind]} and the replacement {_KIND_NAMES[new_kind]}: "
            f"callers still treat it as {_KIND_NAMES[old_kind]}"]
