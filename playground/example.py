"""A live file: edit it and save while the webui runs; it runs again within milliseconds.

Every .py file in the live folder (--hot-reload-dir, or this playground/ by default) runs inside
the webui when it is saved. `replace` swaps a webui function for yours everywhere it is referenced;
the original comes back when this file runs again without that replace(), or is deleted.

Try it: uncomment the print below, save, and press Generate: each image's infotext is printed in
the webui's console. Comment it out again and save: back to normal, no restart.
"""
from hotreload_lib import original, replace

try:
    from modules import processing
except ImportError:  # outside a webui (python -m hotreload_lib watch / demo): nothing to patch
    processing = None

if processing is not None:

    def create_infotext(p, *args, **kwargs):
        text = original(processing.create_infotext)(p, *args, **kwargs)
        # print("[hot reload playground] infotext:", text)
        return text

    replace(processing, "create_infotext", create_infotext)
