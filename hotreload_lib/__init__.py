"""sd-webui-hot-reload: save a .py file in the live folder and it runs inside the running webui.

The pipeline, a subpackage per stage (a module per job in each):
    watching/       watch -> debounce
        watch.py        watchdog observer (native, or polling where native events do not arrive)
        supervise.py    keep a folder watched: health checks, restart with backoff, say how it is watched
        coalesce.py     one reload per save
        switching.py    quick thread switching while a save is handled (a busy generation thread)
        roots.py        the kinds of watched folder, behind one protocol the loop talks to
    gate.py         nothing runs while a generation does: changed files wait, then run once
    live/           run a file
        livefolder.py   the live folder: scan, run and remove its files, one LiveFile record each
        runner.py       run one live file as a fresh module, in a patch transaction
        oversight.py    live code that runs long: "still running" notices, interrupts
        threadfaults.py exceptions that end threads live files started, reported as their events
    update/         or update a module
        trackedtree.py  a tracked source tree (an extension you develop): its modules follow its edits
        tracked.py      which loaded modules a file is the source of, and what each one runs
        moduleindex.py  the functions and classes a loaded module holds
        codediff.py     what changed between two versions of a module, statement by statement
        updateplan.py   how an update will go, and what it must refuse, before anything changes
        updatesteps.py  what the update's steps do to the module's objects, each with its undo
        modupdate.py    apply that difference to the loaded module in place, as one transaction
        reach.py        which functions a function may call: what an edit means for the page's builders
    patch/          -> patch registry
        registry.py     who replaced what; undo and restore, nothing lost
        inplace.py      patch a function object in place, so every alias sees the new code
        targets.py      where a replace() target lives and how to set it
        pristine.py     the builtins as they were, for the registry's own code
    events.py       -> events: one typed record per reload, capped, and the reporter that logs and publishes it
    page/           -> page
        server.py       the page's routes: status, the buttons, the event stream, apply
        stream.py       the event stream's transport: shared copies, per-client buffers, cut-offs
        origin.py       which site's page a request comes from: the routes' trust step
        apply.py        apply and report: wait until the files saved are handled, say what happened
        ui.py           the "Hot Reload" tab
        pagesplice.py   a part of the running gradio page (a tab, a Script's group) rebuilt in place
    reloader.py     a small loop over the parts above, on one worker thread (worker.py)
    timings.py      how long the parts wait (shortened by tests)
    hooks.py        what a host lends the engine (busy?, its callbacks, script modules, page rebuilds)
    host.py         the only module that touches the webui (`modules.*`)
    client.py       `python -m hotreload_lib apply`: the call from a script, standard library only
    demo.py         the page without a webui: `python -m hotreload_lib demo`

Live files use the API below: `from hotreload_lib import replace, original`.
"""
from .patch.registry import original, replace, restore, restore_all

__all__ = ["original", "replace", "restore", "restore_all"]
