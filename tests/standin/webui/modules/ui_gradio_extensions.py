"""Stand-in for modules/ui_gradio_extensions.py: how the page links the extensions' stylesheets and
scripts (file=<path>?<mtime>), and reload_javascript(), which makes later page loads get new tags."""
import os

reloads = 0


def webpath(fn):
    return f"file={fn}?{os.path.getmtime(fn)}"


def reload_javascript():
    global reloads
    reloads += 1
