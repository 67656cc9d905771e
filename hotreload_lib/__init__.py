"""sd-webui-hot-reload: save a .py file in the live folder and it runs inside the running webui.

The pipeline, one module each:
    watch.py     watchdog observer (native, or polling where native events do not arrive)
    coalesce.py  one reload per save
    runner.py    run one live file as a fresh module, in a patch transaction
    inplace.py   patch a function object in place, so every alias sees the new code
    registry.py  who replaced what; undo and restore, nothing lost
    events.py    one typed record per reload
    reloader.py  the worker thread that ties them together
    server.py    the page's event stream and status routes (javascript/hot_reload.js draws the toasts)
    ui.py        the "Hot Reload" tab
    host.py      the only module that touches the webui (`modules.*`)
    demo.py      the page without a webui: `python -m hotreload_lib demo`

Live files use the API below: `from hotreload_lib import replace, original`.
"""
from .registry import original, replace, restore, restore_all

__all__ = ["original", "replace", "restore", "restore_all"]
