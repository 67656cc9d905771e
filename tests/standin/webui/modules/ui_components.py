"""Stand-in for modules/ui_components.py (A1111 1.10): the host's own always-multiselect dropdown.
A setting that uses it passes only its choices, so the host's refresh on page load, which feeds the
component's arguments to gr.update(), never hands `multiselect` to gradio 3.41's Dropdown.update()."""
from functools import wraps

import gradio as gr


class DropdownMulti(gr.Dropdown):
    """Same as gr.Dropdown but always multiselect"""

    @wraps(gr.Dropdown.__init__)
    def __init__(self, **kwargs):
        kwargs["multiselect"] = True
        super().__init__(**kwargs)

    def get_block_name(self):
        return "dropdown"
