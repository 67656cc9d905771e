"""Put a new version of one tab into a running gradio app, in place: the same Blocks, the same app and
server, the other tabs untouched (gradio 3.41/3.43 and 4.x).

A tab of the webui is a `TabItem` of the page's Blocks into which an extension's `gr.Blocks` was
rendered (the hosts' create_ui: `with gr.TabItem(label, id=ifid, elem_id=f"tab_{ifid}"):
interface.render()`). Rendering a new interface into the same TabItem does what the host did at start,
after the old one's components and events are taken out:

- the events whose triggers were the old components (and the `.then()` steps after them, and load
  events that fill them) are taken out. gradio 3 addresses events by their position (`fn_index`), which
  the page and the queue use: they stay where they are, with no trigger, no inputs and no function.
  gradio 4 keys them by id: they are removed;
- an old component that an event elsewhere still names (the host's "Defaults" tab lists every input)
  stays in `blocks`, out of the layout, so that event keeps its arity; the others are dropped;
- the page's config (and gradio 4's API description) is computed again: every page load from now on
  gets the new tab.

An open page still shows the config it loaded: gradio 3 has no way to send it a new one, so the page
reloads (javascript/hot_reload.js keeps what the user typed across it).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

REMOVED_TRIGGER = "hot_reload_removed"  # a gradio 3 event the page never fires: its slot is kept


def find_tab(demo: Any, elem_id: str) -> Any | None:
    """The block of `demo`'s layout whose elem_id is `elem_id` (the hosts name a tab `tab_<ifid>`)."""
    pending = list(getattr(demo, "children", []))
    while pending:
        block = pending.pop()
        if getattr(block, "elem_id", None) == elem_id:
            return block
        pending.extend(getattr(block, "children", []) or [])
    return None


def subtree_ids(block: Any) -> set[int]:
    """The ids of the blocks under `block` (not its own)."""
    found: set[int] = set()
    pending = list(getattr(block, "children", []) or [])
    while pending:
        child = pending.pop()
        found.add(child._id)
        pending.extend(getattr(child, "children", []) or [])
    return found


def splice(demo: Any, tab: Any, interface: Any, label: str | None = None) -> None:
    """Replace what `tab` (a block of `demo`) holds by `interface` (a gr.Blocks built since), and
    recompute the config that page loads get. `label` renames the tab. All or nothing: when rendering
    raises (a duplicate block, an api_name clash), `demo` is as it was and the error goes to the caller."""
    undo = _Undo(demo, tab)
    try:
        old = subtree_ids(tab)
        if isinstance(demo.fns, dict):
            still_named = _remove_events_of(demo.fns, old)
        else:
            still_named = _neutralise_events_of(demo.dependencies, demo.fns, old)
        for block_id in old - still_named:
            demo.blocks.pop(block_id, None)
        tab.children.clear()
        with _rendering_into(demo, tab):
            interface.render()
        if label is not None:
            tab.label = label
        demo.config = demo.get_config_file()
    except BaseException:
        undo()
        raise
    for app in {id(app): app for app in (getattr(demo, "app", None), getattr(demo, "server_app", None))}.values():
        # gradio 4 keeps the API description it embeds in every page: it names the old components
        for cached in ("api_info", "all_app_info"):
            if getattr(app, cached, None) is not None:
                setattr(app, cached, None)


class _Undo:
    """What splice() changes, as it was: the blocks, the events (gradio 3's dicts and functions
    are changed in place, gradio 4's are only removed and added), the tab's children and label."""

    def __init__(self, demo: Any, tab: Any) -> None:
        self.demo = demo
        self.tab = tab
        self.blocks = dict(demo.blocks)
        self.fns = demo.fns.copy()
        self.fn_id = getattr(getattr(demo, "default_config", None), "fn_id", None)
        self.dependencies = None if isinstance(demo.fns, dict) else [dict(d) for d in demo.dependencies]
        self.functions = [] if isinstance(demo.fns, dict) else [(fn, fn.fn, fn.inputs, fn.outputs) for fn in demo.fns]
        self.children = list(tab.children)
        self.label = getattr(tab, "label", None)

    def __call__(self) -> None:
        self.demo.blocks.clear()
        self.demo.blocks.update(self.blocks)
        if isinstance(self.fns, dict):
            self.demo.fns.clear()
            self.demo.fns.update(self.fns)
            self.demo.default_config.fn_id = self.fn_id
        else:
            self.demo.fns[:] = self.fns
            self.demo.dependencies[:] = self.dependencies or []
            for fn, function, inputs, outputs in self.functions:
                fn.fn, fn.inputs, fn.outputs = function, inputs, outputs
        self.tab.children[:] = self.children
        self.tab.label = self.label


@contextmanager
def _rendering_into(demo: Any, block: Any) -> Iterator[None]:
    """What `with demo: with block:` sets up, without entering them: leaving a root Blocks makes it a
    new FastAPI app (gradio 3 and 4), which the running server must not get."""
    from gradio.context import Context

    saved = Context.root_block, Context.block
    Context.root_block, Context.block = demo, block
    try:
        yield
    finally:
        Context.root_block, Context.block = saved


def _target_ids(targets: list[Any]) -> set[int]:
    # gradio 3: [component id, ...]; gradio 4: [(component id, event name), ...]
    return {target[0] if isinstance(target, (tuple, list)) else target for target in targets}


def _is_old(targets: set[int], inputs: set[int], outputs: set[int], old: set[int]) -> bool:
    """An event of the old tab: all its triggers are old components, or it has none (a page-load event,
    a step after another) and fills only old ones."""
    if targets:
        return targets <= old
    return bool(outputs) and outputs <= old


def _neutralise_events_of(dependencies: list[dict[str, Any]], fns: list[Any], old: set[int]) -> set[int]:
    """gradio 3: empty the old tab's events in place. Returns the old ids that surviving events name."""
    gone: set[int] = set()
    changed = True
    while changed:  # `.then()` steps follow the event before them
        changed = False
        for index, dependency in enumerate(dependencies):
            if index in gone:
                continue
            after = dependency.get("trigger_after")
            if _is_old(_target_ids(dependency["targets"]), set(dependency["inputs"]), set(dependency["outputs"]),
                       old) or (after is not None and after in gone):
                gone.add(index)
                changed = True
    for index in gone:
        dependency = dependencies[index]
        dependency.update(targets=[], trigger=REMOVED_TRIGGER, inputs=[], outputs=[], backend_fn=False, js=None,
                          trigger_after=None, cancels=[], every=None)
        fns[index].fn = None
        fns[index].inputs = []
        fns[index].outputs = []
    return {block_id for dependency in dependencies
            for block_id in (*dependency["inputs"], *dependency["outputs"]) if block_id in old}


def _remove_events_of(fns: dict[int, Any], old: set[int]) -> set[int]:
    """gradio 4: remove the old tab's events. Returns the old ids that remaining events name."""
    gone: set[int] = set()
    changed = True
    while changed:
        changed = False
        for fn_id, fn in fns.items():
            if fn_id in gone:
                continue
            inputs = {block._id for block in fn.inputs}
            outputs = {block._id for block in fn.outputs}
            targets = {block_id for block_id in _target_ids(fn.targets)
                       if block_id in old or not _is_root(fn, block_id)}
            if _is_old(targets, inputs, outputs, old) or (fn.trigger_after is not None and fn.trigger_after in gone):
                gone.add(fn_id)
                changed = True
    for fn_id in gone:
        del fns[fn_id]
    return {block._id for fn in fns.values() for block in (*fn.inputs, *fn.outputs) if block._id in old}


def _is_root(fn: Any, block_id: int) -> bool:
    """gradio 4 gives a page-load event its Blocks as trigger ((blocks id, "load")), which is no
    component of the tab: such a target says nothing about whose event it is."""
    return any(target[0] == block_id and target[1] == "load" for target in fn.targets
               if isinstance(target, (tuple, list)))
