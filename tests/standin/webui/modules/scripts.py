"""Stand-in for modules/scripts.py (HOST_CONTRACT.md §3, §12): load_scripts() clears every callback,
then executes every scripts/*.py of every extension from file (script_loading.load_module, with the
extension root first on sys.path only meanwhile); a script that raises is reported on stderr and the
others load, as A1111's errors.report does; each Script subclass found is kept as a ScriptClassData,
and a ScriptRunner holds one instance of each, made once per UI build, which a generation calls."""
import dataclasses
import os
import sys
import traceback

from modules import script_callbacks, script_loading


class Script:
    def title(self):
        return "unnamed"

    def show(self, is_img2img):
        return True

    def ui(self, is_img2img):
        return []

    def run(self, p, *args):
        return None


@dataclasses.dataclass
class ScriptClassData:
    script_class: type
    path: str
    basedir: str
    module: object


scripts_data = []
postprocessing_scripts_data = []


class ScriptRunner:
    def __init__(self):
        self.scripts = []

    def initialize_scripts(self, is_img2img=False):
        self.scripts = [data.script_class() for data in scripts_data]


scripts_txt2img = ScriptRunner()


def load_scripts(extension_dirs):
    scripts_data.clear()
    script_callbacks.clear_callbacks()
    modules = []
    for extension_dir in extension_dirs:
        folder = os.path.join(str(extension_dir), "scripts")
        names = sorted(name for name in os.listdir(folder) if name.endswith(".py")) if os.path.isdir(folder) else []
        for name in names:
            path = os.path.join(folder, name)
            saved_path = list(sys.path)
            sys.path.insert(0, str(extension_dir))
            try:
                module = script_loading.load_module(path)
            except Exception:
                print(f"*** Error loading script: {name}", file=sys.stderr)
                traceback.print_exc()
                continue
            finally:
                sys.path[:] = saved_path
            modules.append(module)
            for value in list(vars(module).values()):
                if isinstance(value, type) and issubclass(value, Script) and value is not Script:
                    scripts_data.append(ScriptClassData(value, path, str(extension_dir), module))
    return modules
