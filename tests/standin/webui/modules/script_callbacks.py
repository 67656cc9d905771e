"""Stand-in for the webui's modules/script_callbacks.py (HOST_CONTRACT.md §4), in A1111's shape.

Each registrar appends a `ScriptCallback(script, callback, name)` to `callback_map["callbacks_<kind>"]`
(on_before_reload's kind is "on_reload", as in A1111, Forge and SD.Next), `script` being the file
that registered it: the first frame of the call stack outside this file, as A1111 finds it.
`ordered_callbacks_map` caches sorted lists the way A1111 does (a cached list is used while its
length matches). Registrars take the callback only: like SD.Next, a `name=` keyword
is a TypeError, so an extension that passes it fails here as it would there.
"""
import dataclasses
import inspect
import os

KINDS = ("app_started", "ui_settings", "ui_tabs", "on_reload", "script_unloaded", "image_saved",
         "model_loaded")


@dataclasses.dataclass
class ScriptCallback:
    script: str
    callback: object
    name: str = "unnamed"


callback_map = {f"callbacks_{kind}": [] for kind in KINDS}
ordered_callbacks_map = {}


def _register(kind, callback):
    stack = [frame for frame in inspect.stack() if frame.filename != __file__]
    script = stack[0].filename if stack else "unknown file"
    entries = callback_map[f"callbacks_{kind}"]
    entries.append(ScriptCallback(script, callback, f"{os.path.basename(script)}/{kind}-{len(entries)}"))


def on_app_started(callback):
    _register("app_started", callback)


def on_ui_settings(callback):
    _register("ui_settings", callback)


def on_ui_tabs(callback):
    _register("ui_tabs", callback)


def on_before_reload(callback):
    _register("on_reload", callback)


def on_script_unloaded(callback):
    _register("script_unloaded", callback)


def on_image_saved(callback):
    _register("image_saved", callback)


def on_model_loaded(callback):
    _register("model_loaded", callback)


def ordered_callbacks(kind):
    unordered = callback_map[f"callbacks_{kind}"]
    cached = ordered_callbacks_map.get(kind)
    if cached is not None and len(cached) == len(unordered):
        return cached
    ordered_callbacks_map[kind] = list(unordered)
    return ordered_callbacks_map[kind]


def remove_callbacks_for_function(callback_func):
    for entries in [*callback_map.values(), *ordered_callbacks_map.values()]:
        entries[:] = [entry for entry in entries if entry.callback != callback_func]


def clear_callbacks():
    for entries in callback_map.values():
        entries.clear()
    ordered_callbacks_map.clear()


def fire(kind, *args, reverse=False):
    """Call each callback of `kind` (A1111 calls the script_unloaded ones in reverse order)."""
    entries = list(ordered_callbacks(kind))
    return [entry.callback(*args) for entry in (reversed(entries) if reverse else entries)]
