"""Stand-in for the webui's modules/script_callbacks.py (HOST_CONTRACT.md §4).

Registrars take the callback only: like SD.Next, a `name=` keyword is a TypeError, so an extension
that passes it fails here as it would there. Each callback is recorded with the file that
registered it, found from the call stack, as the host does.
"""
import inspect
import os

callbacks = {name: [] for name in ("app_started", "ui_settings", "ui_tabs", "before_reload", "script_unloaded")}


def _register(kind, callback):
    caller = inspect.stack()[2].filename
    callbacks[kind].append((os.path.abspath(caller), callback))


def on_app_started(callback):
    _register("app_started", callback)


def on_ui_settings(callback):
    _register("ui_settings", callback)


def on_ui_tabs(callback):
    _register("ui_tabs", callback)


def on_before_reload(callback):
    _register("before_reload", callback)


def on_script_unloaded(callback):
    _register("script_unloaded", callback)


def clear_callbacks():
    for entries in callbacks.values():
        entries.clear()


def fire(kind, *args):
    results = []
    for _path, callback in list(callbacks[kind]):
        results.append(callback(*args))
    return results
