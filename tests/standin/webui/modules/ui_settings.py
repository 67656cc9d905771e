"""Stand-in for modules/ui_settings.py (A1111 1.10): the Settings tab made from every registered option
at once, a TabItem per section (`settings_<section id>`) holding a Column (`column_settings_<section id>`)
with one component per option (create_setting_component: the option's component class, else one by the
default's type); "Apply settings" takes every component, in data_labels order, and run_settings zips
the option keys with the values it gets. shared.settings_components maps each key to its component."""
import gradio as gr

from modules import shared


def create_setting_component(key):
    info = shared.opts.data_labels[key]
    args = info.component_args() if callable(info.component_args) else info.component_args
    kind = type(info.default)
    comp = info.component or {str: gr.Textbox, int: gr.Number, float: gr.Number, bool: gr.Checkbox}[kind]
    value = shared.opts.data[key] if key in shared.opts.data else info.default
    return comp(label=info.label, value=value, elem_id=f"setting_{key}", **(args or {}))


class UiSettings:
    def run_settings(self, *args):
        changed = []
        for key, value, _comp in zip(shared.opts.data_labels.keys(), args, self.components):
            if shared.opts.data.get(key) != value:
                shared.opts.set(key, value)
                changed.append(key)
        return f"{len(changed)} settings changed: {', '.join(changed)}"

    def create_ui(self):
        self.components = []
        self.component_dict = {}
        shared.settings_components = self.component_dict
        with gr.Blocks(analytics_enabled=False) as self.interface:
            self.submit = gr.Button(value="Apply settings", variant="primary", elem_id="settings_submit")
            self.result = gr.HTML(elem_id="settings_result")
            sections = {}
            for key, info in shared.opts.data_labels.items():
                sections.setdefault(tuple(info.section or ("other", "Other")), []).append(key)
            with gr.Tabs(elem_id="settings"):
                for (section_id, text), keys in sections.items():
                    with gr.TabItem(elem_id=f"settings_{section_id}", label=text):
                        with gr.Column(elem_id=f"column_settings_{section_id}", variant="compact"):
                            for key in keys:
                                component = create_setting_component(key)
                                self.component_dict[key] = component
                                self.components.append(component)
        return self.interface

    def add_functionality(self, demo):
        self.submit.click(fn=lambda *args: self.run_settings(*args), inputs=self.components, outputs=[self.result])
