"""Stand-in for modules/ui_settings.py (A1111 1.10): the Settings tab made from every registered option
at once, a TabItem per section (`settings_<section id>`) holding a Column (`column_settings_<section id>`)
with one component per option, made from its OptionInfo (create_setting_component);
shared.settings_components maps each key to its component. "Apply settings" takes every component, in
data_labels order, and run_settings zips the option keys with the values it gets.

Every page load refreshes all settings at once through one `demo.load` whose function returns
`gr.update(value=..., **component_args)` per setting. gradio then checks each update against its
component (3.41: `Dropdown.update(**args)`), so one setting whose arguments the component cannot take
fails the whole refresh: the page shows "Error" and no setting is refreshed."""
import gradio as gr

from modules import shared
from modules.shared import opts


def get_value_for_setting(key):
    value = getattr(opts, key)

    info = opts.data_labels[key]
    args = info.component_args() if callable(info.component_args) else info.component_args or {}
    args = {k: v for k, v in args.items() if k not in {"precision"}}

    return gr.update(value=value, **args)


def create_setting_component(key):
    info = opts.data_labels[key]
    t = type(info.default)

    args = info.component_args() if callable(info.component_args) else info.component_args

    if info.component is not None:
        comp = info.component
    elif t == str:
        comp = gr.Textbox
    elif t == int:
        comp = gr.Number
    elif t == bool:
        comp = gr.Checkbox
    else:
        raise Exception(f"bad options item type: {t} for key {key}")

    return comp(label=info.label, value=getattr(opts, key), elem_id=f"setting_{key}", **(args or {}))


class UiSettings:
    def run_settings(self, *args):
        changed = []
        for key, value, _comp in zip(opts.data_labels.keys(), args, self.components):
            if opts.data.get(key) != value:
                opts.set(key, value)
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
            for key, info in opts.data_labels.items():
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
        component_keys = [k for k in opts.data_labels.keys() if k in self.component_dict]

        def get_settings_values():
            return [get_value_for_setting(key) for key in component_keys]

        demo.load(fn=get_settings_values, inputs=[], outputs=[self.component_dict[k] for k in component_keys],
                  queue=False)
