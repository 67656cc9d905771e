"""Stand-in for modules/script_loading.py: scripts are executed from file, never imported."""
import importlib.util
import os

loaded_scripts = {}


def load_module(path):
    module_spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    loaded_scripts[path] = module
    return module


def preload_extensions(extension_dirs, parser):
    for directory in extension_dirs:
        preload_script = os.path.join(directory, "preload.py")
        if not os.path.isfile(preload_script):
            continue
        module = load_module(preload_script)
        if hasattr(module, "preload"):
            module.preload(parser)
