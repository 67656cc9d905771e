"""A live file for the demo (`python -m hotreload_lib demo`): it replaces the demo page's greet().

Change the greeting and save: a toast says "Reloaded greet.py" and the page's Greet button answers
with the new text. Put `1/0` on a line of its own and save: an error toast points at that line, and
the last good version stays. Inside a webui the demo is not loaded, and this file does nothing.
"""
import sys

from hotreload_lib import original, replace

demo = sys.modules.get("hotreload_lib.demo")

if demo is not None:

    def greet(name: str) -> str:
        before = original(demo.greet)(name)  # the demo's own greet(): "Hello, <name>!"
        return before + " This answer comes from playground/greet.py."

    replace(demo, "greet", greet)
