"""sd-webui-hot-reload: the webui's entry point. It only registers callbacks; the work happens in
them, in the hotreload_lib package, imported on first use."""
import importlib
import importlib.util
import os
import sys

from modules import script_callbacks

# Captured now: the host executes this file from its location, and the folder name is not ours.
EXTENSION_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Also hotreload_lib.host.OPT_ENABLED: read here so that a disabled extension's callbacks return
# before anything of hotreload_lib is loaded.
ENABLED_OPTION = "hot_reload_enabled"


def _enabled() -> bool:
    from modules import shared

    return bool(getattr(getattr(shared, "opts", None), ENABLED_OPTION, True))


def _host():
    """hotreload_lib.host. By the time a callback runs, the host has taken the extension root off
    sys.path again, so the package is loaded from its location (once: later calls, also after
    "Reload UI", find it in sys.modules)."""
    if "hotreload_lib" not in sys.modules:
        package_dir = os.path.join(EXTENSION_ROOT, "hotreload_lib")
        spec = importlib.util.spec_from_file_location(
            "hotreload_lib", os.path.join(package_dir, "__init__.py"), submodule_search_locations=[package_dir]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules["hotreload_lib"] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules["hotreload_lib"]
            raise
    return importlib.import_module("hotreload_lib.host")


def on_app_started(demo, app) -> None:
    if not _enabled():
        return
    _host().on_app_started(demo, app)


def on_ui_tabs():
    if not _enabled():
        return []
    return _host().on_ui_tabs()


def on_before_reload() -> None:
    if not _enabled():
        return
    _host().on_before_reload()


def on_ui_settings() -> None:
    # Registers the settings, "Enable hot reload" included, so it runs when disabled too.
    _host().on_ui_settings()


script_callbacks.on_app_started(on_app_started)
script_callbacks.on_ui_settings(on_ui_settings)
script_callbacks.on_ui_tabs(on_ui_tabs)
script_callbacks.on_before_reload(on_before_reload)
