"""Stand-in for modules/ui_settings.py (A1111 1.10): each setting's component is made from its
OptionInfo, and every page load refreshes all of them at once through one `demo.load` whose
function returns `gr.update(value=..., **component_args)` per setting. gradio then checks each
update against its component (3.41: `Dropdown.update(**args)`), so one setting whose arguments the
component cannot take fails the whole refresh: the page shows "Error" and no setting is refreshed."""
import gradio as gr

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


def create_ui(keys):
    """The settings page of `keys`, with the host's refresh on page load (the demo's first event)."""
    with gr.Blocks(analytics_enabled=False) as demo:
        components = [create_setting_component(key) for key in keys]

        def get_settings_values():
            return [get_value_for_setting(key) for key in keys]

        demo.load(fn=get_settings_values, inputs=[], outputs=components, queue=False)
    return demo
