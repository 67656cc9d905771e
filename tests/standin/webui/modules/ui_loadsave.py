"""Stand-in for modules/ui_loadsave.py: ui-config.json keeps each input's value from the first UI build,
keyed "<tab id>/<label>/value", and gives it back to the component at every later build (A1111's
UiLoadsave.add_block / apply_field: a saved value wins over the default in code); new keys are added."""
import json
import os

import gradio as gr

SAVED_TYPES = (gr.Slider, gr.Radio, gr.Checkbox, gr.Textbox, gr.Number, gr.Dropdown)


class UiLoadsave:
    def __init__(self, filename):
        self.filename = filename
        self.ui_settings = {}
        self.finalized_ui = False
        if os.path.exists(filename):
            with open(filename, encoding="utf8") as file:
                self.ui_settings = json.load(file)

    def add_component(self, path, x):
        assert not self.finalized_ui
        if type(x) not in SAVED_TYPES:
            return
        key = f"{path}/value"
        saved_value = self.ui_settings.get(key, None)
        if saved_value is None:
            self.ui_settings[key] = x.value
        else:
            x.value = saved_value

    def add_block(self, x, path=""):
        if hasattr(x, "children"):
            for c in x.children:
                self.add_block(c, path)
        elif x.label is not None:
            self.add_component(f"{path}/{x.label}", x)

    def setup_ui(self):
        assert not self.finalized_ui
        self.finalized_ui = True

    def dump_defaults(self):
        with open(self.filename, "w", encoding="utf8") as file:
            json.dump(self.ui_settings, file, indent=4)
