"""Stand-in for modules/ui.py create_ui(), in A1111 1.10's shape: one gr.Blocks with a txt2img tab (its
prompt, txt2img_prompt, is what the page's script.js waits for, and its scripts' UI, scripts.py), then every on_ui_tabs
tab rendered into
`gr.TabItem(label, id=ifid, elem_id=f"tab_{ifid}")` and registered with ui_loadsave (ui-config.json),
then Settings (ui_settings.py). The txt2img Generate button runs a stand-in generation through the ScriptRunner, as the
host's does, and says what the scripts' run() returned."""
import os
import types

import gradio as gr

from modules import script_callbacks, scripts, shared, ui_loadsave, ui_settings


def generate(prompt, *script_args):
    """A stand-in txt2img: the always-on scripts' before_process() and process() get their slice of the
    arguments (and may note
    what it saw in p.extra_generation_params, as A1111's do), then the result names the prompt and them."""
    shared.state.begin("txt2img")
    try:
        p = types.SimpleNamespace(prompt=prompt, script_args=script_args, extra_generation_params={})
        scripts.scripts_txt2img.before_process(p)
        scripts.scripts_txt2img.process(p)
        return ", ".join([prompt, *(f"{key}: {value}" for key, value in p.extra_generation_params.items())])
    finally:
        shared.state.end()


def create_ui():
    loadsave = ui_loadsave.UiLoadsave(os.path.join(shared.data_path, "ui-config.json"))
    scripts.scripts_txt2img.initialize_scripts(is_img2img=False)
    with gr.Blocks(analytics_enabled=False) as txt2img_interface:
        prompt = gr.Textbox(label="Prompt", elem_id="txt2img_prompt")
        submit = gr.Button("Generate", elem_id="txt2img_generate", variant="primary")
        with gr.Column(elem_id="txt2img_script_container"):
            custom_inputs = scripts.scripts_txt2img.setup_ui()
        result = gr.Textbox(label="Result", elem_id="txt2img_result")
        # One list for both events, as A1111's txt2img_args: gradio keeps it as both events' inputs.
        txt2img_args = dict(fn=generate, inputs=[prompt, *custom_inputs], outputs=[result])
        prompt.submit(**txt2img_args)
        submit.click(**txt2img_args)
    interfaces = [(txt2img_interface, "txt2img", "txt2img")]
    interfaces += [tab for tabs in script_callbacks.fire("ui_tabs") for tab in (tabs or [])]
    settings = ui_settings.UiSettings()
    interfaces.append((settings.create_ui(), "Settings", "settings"))

    with gr.Blocks(analytics_enabled=False, title="Stable Diffusion") as demo:
        with gr.Tabs(elem_id="tabs"):
            for interface, label, ifid in interfaces:
                with gr.TabItem(label, id=ifid, elem_id=f"tab_{ifid}"):
                    interface.render()
                if ifid not in ["extensions", "settings"]:
                    loadsave.add_block(interface, ifid)
            loadsave.setup_ui()
        settings.add_functionality(demo)
    loadsave.dump_defaults()
    demo.ui_loadsave = loadsave
    return demo
