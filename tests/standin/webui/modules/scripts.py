"""Stand-in for modules/scripts.py (HOST_CONTRACT.md §3, §12): load_scripts() clears every callback,
then executes every scripts/*.py of every extension from file (script_loading.load_module, with the
extension root first on sys.path only meanwhile); a script that raises is reported on stderr and the
others load, as A1111's errors.report does; each Script subclass found is kept as a ScriptClassData,
and a ScriptRunner holds one instance of each, made once per UI build, which a generation calls.

The ScriptRunner builds the scripts' UI as A1111 1.10's does (setup_ui): each script's ui() inside a
`gr.Group` kept as `script.group`, its controls appended to the runner's flat `inputs` (first the
script dropdown) with `args_from`/`args_to` recording its slice, which the Generate button's inputs
end with; a generation hands each always-on script's before_process() and process() its slice of the
arguments. Which scripts override a hook is worked out once and cached in `callback_map`, kept while
the number of always-on scripts stays the same (A1111's ordered_callbacks).

`ScriptRunner.keeps_inputs = False` builds it in SD.Next's shape instead (modules/scripts_manager.py,
master 2026-07: ScriptRunner.setup_ui): the controls go to a list of setup_ui's own, which it returns
for the Generate button's inputs, while the runner's `inputs` stays `[None]` and no script gets a
`controls` attribute; `args_from`/`args_to` index that list all the same."""
import dataclasses
import os
import sys
import traceback

from modules import script_callbacks, script_loading


class AlwaysVisible:
    pass


class Script:
    filename = None
    args_from = None
    args_to = None
    alwayson = False
    is_img2img = False
    group = None
    create_group = True
    section = None
    controls = None

    def title(self):
        return "unnamed"

    def show(self, is_img2img):
        return True

    def ui(self, is_img2img):
        return []

    def run(self, p, *args):
        return None

    def before_process(self, p, *args):
        pass

    def process(self, p, *args):
        pass


@dataclasses.dataclass
class ScriptClassData:
    script_class: type
    path: str
    basedir: str
    module: object


scripts_data = []
postprocessing_scripts_data = []


class ScriptRunner:
    keeps_inputs = True  # A1111/Forge; False: SD.Next's setup_ui (see the module's docstring)

    def __init__(self):
        self.scripts = []
        self.selectable_scripts = []
        self.alwayson_scripts = []
        self.inputs = [None]
        self.callback_map = {}

    def initialize_scripts(self, is_img2img=False):
        self.scripts, self.selectable_scripts, self.alwayson_scripts = [], [], []
        for data in scripts_data:
            script = data.script_class()
            script.filename = data.path
            script.is_img2img = is_img2img
            visibility = script.show(is_img2img)
            if visibility == AlwaysVisible:
                self.scripts.append(script)
                self.alwayson_scripts.append(script)
                script.alwayson = True
            elif visibility:
                self.scripts.append(script)
                self.selectable_scripts.append(script)

    def create_script_ui(self, script, inputs):
        script.args_from = len(inputs)
        script.args_to = len(inputs)
        controls = script.ui(script.is_img2img)
        if self.keeps_inputs:
            script.controls = controls
        if controls is None:
            return
        for control in controls:
            control.custom_script_source = os.path.basename(script.filename)
        inputs += controls
        script.args_to = len(inputs)

    def setup_ui_for_section(self, section, inputs, scriptlist=None):
        import gradio as gr

        for script in self.alwayson_scripts if scriptlist is None else scriptlist:
            if script.alwayson and script.section != section:
                continue
            if script.create_group:
                with gr.Group(visible=script.alwayson) as group:
                    self.create_script_ui(script, inputs)
                script.group = group
            else:
                self.create_script_ui(script, inputs)

    def setup_ui(self):
        import gradio as gr

        inputs = [None]
        self.inputs = inputs if self.keeps_inputs else [None]
        self.setup_ui_for_section(None, inputs)
        titles = [script.title() for script in self.selectable_scripts]
        inputs[0] = gr.Dropdown(label="Script", elem_id="script_list", choices=["None", *titles], value="None",
                                type="index")
        self.setup_ui_for_section(None, inputs, self.selectable_scripts)
        return inputs

    def ordered_scripts(self, method_name):
        scripts_len, callbacks = self.callback_map.get(method_name, (-1, None))
        if callbacks is None or scripts_len != len(self.alwayson_scripts):
            callbacks = [script for script in self.alwayson_scripts
                         if getattr(type(script), method_name, None) is not getattr(Script, method_name, None)]
            self.callback_map[method_name] = len(self.alwayson_scripts), callbacks
        return callbacks

    def before_process(self, p):
        for script in self.ordered_scripts("before_process"):
            script.before_process(p, *p.script_args[script.args_from:script.args_to])

    def process(self, p):
        for script in self.ordered_scripts("process"):
            script.process(p, *p.script_args[script.args_from:script.args_to])


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
