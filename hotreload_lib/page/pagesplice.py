"""Put a new version of one part of a running gradio page in place: the same Blocks, the same app and
server, the rest of the page untouched (gradio 3.41/3.43 and 4.x).

A part is a container block of the page's Blocks: a tab (the hosts' create_ui renders each on_ui_tabs
interface into `gr.TabItem(label, id=ifid, elem_id=f"tab_{ifid}")`), or the group a Script's ui() was
built in (A1111/Forge ScriptRunner: `with gr.Group() as script.group: script.ui(...)`). Building the
new version inside the same container does what the host did at start, after the old one's components
and events are taken out:

- the events whose triggers were the old components (and the `.then()` steps after them, and load
  events that fill them) are taken out. gradio 3 addresses events by their position (`fn_index`), which
  the page and the queue use: they stay where they are, with no trigger, no inputs and no function.
  gradio 4 keys them by id: they are removed;
- components an event outside the part takes as inputs (a Script's controls in the Generate button's
  inputs) are swapped for the new ones in that event, in the same places;
- an old component that an event elsewhere still names (the host's "Defaults" tab lists every input)
  stays in `blocks`, out of the layout, so that event keeps its arity; the others are dropped;
- the page's config (and gradio 4's API description) is computed again: every page load from now on
  gets the new part.

An open page still shows the config it loaded. gradio 3 has no way to send it a new one, so the page
reloads (javascript/hot_reload.js keeps what the user typed across it); on gradio 4 the page
re-renders a rebuilt tab in place (rerender.py).
"""
from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from .rerender import can_rerender, mark_build

REMOVED_TRIGGER = "hot_reload_removed"  # a gradio 3 event the page never fires: its slot is kept
# Set in the config of each rebuilt page: gradio embeds the config in the page it serves
# (window.gradio_config), so a page knows which build it shows, and the stream's hello says which
# one the server has: a page loaded just before a rebuild, whose event it may never hear, sees it.
PAGE_VERSION_KEY = "hot_reload_ui"
_page_versions = itertools.count(1)
Built = TypeVar("Built")


def find_block(demo: Any, elem_id: str) -> Any | None:
    """The block of `demo`'s layout whose elem_id is `elem_id` (the hosts name a tab `tab_<ifid>`)."""
    pending = list(getattr(demo, "children", []))
    while pending:
        block = pending.pop()
        if getattr(block, "elem_id", None) == elem_id:
            return block
        pending.extend(getattr(block, "children", []) or [])
    return None


def inputs_within(demo: Any, container: Any, count: int) -> list[Any] | None:
    """The `count` components inside `container` that an event triggered from outside it takes as a
    run of its inputs, in that order (a Script's controls in the Generate button's inputs); None when
    no event does. An event of the container's own may take them in any order."""
    inside = subtree_ids(container)
    for fn, targets in _events(demo):
        if targets and targets <= inside:
            continue
        start = next((index for index, block in enumerate(fn.inputs) if block._id in inside), None)
        run = list(fn.inputs[start:start + count]) if start is not None and count > 0 else []
        if len(run) == count and all(block._id in inside for block in run):
            return run
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


def splice(demo: Any, container: Any, build: Callable[[], Built], *, label: str | None = None,
           replacing: Sequence[Any] = (), rendered_in: Any = None, page_build: int | None = None) -> Built:
    """Replace what `container` (a block of `demo`) holds by what `build()` makes in it, and recompute
    the config that page loads get. `label` renames the container (a tab). `replacing`: old input
    components whose places in events outside the container the components `build()` returns take.
    `rendered_in`: the container's TabRender (gradio 4, rerender.py), which the new components and
    events are marked with. `page_build`: the number of the page build this splice is part of (the
    next one if None; parts rebuilt together share one). All or nothing: when building raises (the
    extension's code, a duplicate block, an api_name clash), `demo` is as it was and the error goes to
    the caller."""
    undo = _Undo(demo, container)
    page_build = next_page_build() if page_build is None else page_build
    try:
        old = subtree_ids(container)
        events_before = dict(demo.fns) if isinstance(demo.fns, dict) else None
        if events_before is not None:
            first_free = max(demo.default_config.fn_id, max(events_before, default=-1) + 1)
            _remove_events_of(demo.fns, old)
        else:
            _neutralise_events_of(demo.dependencies, demo.fns, old)
        container.children.clear()
        with _rendering_into(demo, container):
            built = build()
        made = subtree_ids(container)
        if events_before is not None:
            added = _number_anew(demo.default_config, events_before, first_free)
            if rendered_in is not None:
                for item in [*(demo.blocks[block_id] for block_id in made), *added]:
                    item.rendered_in = rendered_in
                mark_build(container, page_build)
        if replacing:
            _swap_inputs(demo, list(replacing), list(built or []))  # type: ignore[call-overload]
        for block_id in old - _named_by_events(demo):
            demo.blocks.pop(block_id, None)
        if label is not None:
            container.label = label
        recompute(demo, page_build, changed={container._id, *made})
    except BaseException:
        undo()
        raise
    return built


def add(demo: Any, container: Any, build: Callable[[], list[Any]], *, to_inputs_of: str) -> list[Any]:
    """Add what `build()` makes at the end of `container`, and its components at the end of the inputs
    of the events that the block with elem_id `to_inputs_of` triggers (the host's Settings page: its
    Apply button takes every option's component, in the order of the options). All or nothing."""
    undo = _Undo(demo, container)
    try:
        with _rendering_into(demo, container):
            built = list(build())
        trigger = find_block(demo, to_inputs_of)
        extended: set[int] = set()
        for fn, targets in _events(demo):
            # In place, once per list: the host may hold the same list (ui_settings' components).
            if trigger is not None and trigger._id in targets and id(fn.inputs) not in extended:
                extended.add(id(fn.inputs))
                fn.inputs.extend(built)
        _sync_ids(demo)
        recompute(demo)
    except BaseException:
        undo()
        raise
    return built


def extend_load(demo: Any, among: Any, added: list[Any], values: Callable[[], list[Any]]) -> bool:
    """The page-load event that fills `among` (the host's refresh of every setting at each page load)
    fills `added` too, with what `values()` returns then: without it a component added later would show
    the value it was made with on every page load, and the next Apply would save that. False when no
    such event exists."""
    root_ids = {getattr(demo, "_id", None)}
    for fn, targets in _events(demo):
        if getattr(fn, "fn", None) is None or targets - root_ids or all(block is not among for block in fn.outputs):
            continue

        def refreshed(*args: Any, _load: Callable[..., Any] = fn.fn) -> list[Any]:
            return [*_load(*args), *values()]

        fn.fn = refreshed
        fn.outputs.extend(added)
        _sync_ids(demo)
        recompute(demo)
        return True
    return False


def _number_anew(config: Any, before: dict[int, Any], first_free: int) -> list[Any]:
    """gradio 4: the events a build added, with ids from `first_free` on, which no event of this app
    ever had. gradio numbers the events a rendered Blocks brings from the highest id in use, which is
    the id of an event just taken out when that was the last one: an open page still knows that id for
    the old event (it drops only the events marked as rendered in the part) and would send the new
    one's clicks nowhere."""
    added = sorted((fn_id, fn) for fn_id, fn in config.fns.items() if before.get(fn_id) is not fn)
    if any(fn_id < first_free for fn_id, _fn in added):
        renumbered = {fn_id: first_free + index for index, (fn_id, _fn) in enumerate(added)}
        for fn_id, _fn in added:
            del config.fns[fn_id]
        for fn_id, fn in added:
            fn._id = renumbered[fn_id]
            fn.cancels = [renumbered.get(cancelled, cancelled) for cancelled in fn.cancels]
            if fn.trigger_after is not None:
                fn.trigger_after = renumbered.get(fn.trigger_after, fn.trigger_after)
            config.fns[fn._id] = fn
    config.fn_id = max(first_free, max(config.fns, default=-1) + 1)  # Blocks.render lowered it
    return [fn for _fn_id, fn in added]


def next_page_build() -> int:
    return next(_page_versions)


def recompute(demo: Any, page_build: int | None = None, changed: set[int] | None = None) -> None:
    """The config every page load gets from now on, as page build `page_build` (the next one if None),
    and gradio 4's API description, which it embeds in every page and keeps: it names components.
    `changed`: the only components whose config may differ (or be gone) since the last one, if known."""
    config = _config_with(demo, changed) if changed is not None else None
    demo.config = config if config is not None else demo.get_config_file()
    demo.config[PAGE_VERSION_KEY] = next_page_build() if page_build is None else page_build
    for app in {id(app): app for app in (getattr(demo, "app", None), getattr(demo, "server_app", None))}.values():
        for cached in ("api_info", "all_app_info"):
            if getattr(app, cached, None) is not None:
                setattr(app, cached, None)


def _config_with(demo: Any, changed: set[int]) -> dict[str, Any] | None:
    """gradio 4: the page's config with the components `changed` described again, those no longer in
    the app dropped, and the layout and events as they are now; the same as get_config_file(), for a
    fraction of its time: describing each component is most of it (2 700 on a Forge page: 0.2-0.7 s,
    before an open page can re-render a rebuilt tab). None when it cannot be had that way (gradio 3,
    whose rebuilt tabs reach the page through a page load, or no config yet)."""
    config = getattr(demo, "config", None)
    if not can_rerender(demo) or not isinstance(config, dict) or not isinstance(config.get("components"), list):
        return None
    from gradio.utils import connect_heartbeat

    described = copy.copy(demo.default_config)
    described.blocks = {block_id: block for block_id, block in demo.blocks.items() if block_id in changed}
    part = described.get_config()
    kept = [component for component in config["components"]
            if component.get("id") in demo.blocks and component.get("id") not in described.blocks]
    fresh = {**config, **part, "components": kept + part["components"]}
    fresh["connect_heartbeat"] = connect_heartbeat(fresh, demo.blocks.values())
    return fresh


class _Undo:
    """What splice() changes, as it was: the blocks, the events (gradio 3's dicts and functions are
    changed in place, gradio 4's inputs lists too), the container's children and label."""

    def __init__(self, demo: Any, container: Any) -> None:
        self.demo = demo
        self.container = container
        self.blocks = dict(demo.blocks)
        self.fns = demo.fns.copy()
        self.fn_id = getattr(getattr(demo, "default_config", None), "fn_id", None)
        self.dependencies = None if isinstance(demo.fns, dict) else [dict(d) for d in demo.dependencies]
        functions = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
        self.functions = [(fn, getattr(fn, "fn", None), fn.inputs, list(fn.inputs), fn.outputs, list(fn.outputs))
                          for fn in functions]
        self.children = list(container.children)
        self.label = getattr(container, "label", None)
        self.classes = getattr(container, "elem_classes", None)

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
        for fn, function, inputs, inputs_held, outputs, outputs_held in self.functions:
            inputs[:], outputs[:] = inputs_held, outputs_held  # the same list objects: the host may hold them
            fn.fn, fn.inputs, fn.outputs = function, inputs, outputs
        self.container.children[:] = self.children
        if self.label is not None:
            self.container.label = self.label
        if hasattr(self.container, "elem_classes"):
            self.container.elem_classes = self.classes


@contextmanager
def no_apps_made() -> Iterator[None]:
    """While a builder runs again for a splice on this thread: gradio makes a FastAPI app (dozens of
    routes, their pydantic models) for every Blocks that ends as a root, twice on gradio 4 (its queue()
    at the start too): most of a tab's rebuild time. A tab's Blocks is only rendered into the page; no
    app of it is ever served. Other threads still get theirs; another patch of create_app made
    meanwhile is left in place."""
    from gradio.routes import App

    held = App.__dict__["create_app"]
    create = App.create_app
    builder = threading.get_ident()

    def create_app(blocks: Any, *args: Any, **kwargs: Any) -> Any:
        return None if threading.get_ident() == builder else create(blocks, *args, **kwargs)

    ours = staticmethod(create_app)
    App.create_app = ours
    try:
        yield
    finally:
        if App.__dict__.get("create_app") is ours:
            App.create_app = held


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


def _events(demo: Any) -> list[tuple[Any, set[int]]]:
    """Each event's function and the ids of the components that trigger it."""
    if isinstance(demo.fns, dict):
        return [(fn, _target_ids(fn.targets)) for fn in demo.fns.values()]
    return [(fn, _target_ids(dependency["targets"])) for fn, dependency in zip(demo.fns, demo.dependencies,
                                                                               strict=True)]


def _target_ids(targets: list[Any]) -> set[int]:
    # gradio 3: [component id, ...]; gradio 4: [(component id, event name), ...]
    return {target[0] if isinstance(target, (tuple, list)) else target for target in targets}


def _is_old(targets: set[int], outputs: set[int], old: set[int]) -> bool:
    """An event of the old part: all its triggers are old components, or it has none (a page-load event,
    a step after another) and fills only old ones."""
    if targets:
        return targets <= old
    return bool(outputs) and outputs <= old


def _neutralise_events_of(dependencies: list[dict[str, Any]], fns: list[Any], old: set[int]) -> None:
    """gradio 3: empty the old part's events in place."""
    gone: set[int] = set()
    changed = True
    while changed:  # `.then()` steps follow the event before them
        changed = False
        for index, dependency in enumerate(dependencies):
            if index in gone:
                continue
            after = dependency.get("trigger_after")
            if _is_old(_target_ids(dependency["targets"]), set(dependency["outputs"]), old) or (
                    after is not None and after in gone):
                gone.add(index)
                changed = True
    for index in gone:
        dependencies[index].update(targets=[], trigger=REMOVED_TRIGGER, inputs=[], outputs=[], backend_fn=False,
                                   js=None, trigger_after=None, cancels=[], every=None)
        fns[index].fn = None
        fns[index].inputs = []
        fns[index].outputs = []


def _remove_events_of(fns: dict[int, Any], old: set[int]) -> None:
    """gradio 4: remove the old part's events. A page-load event has its Blocks as trigger ((blocks id,
    "load")), which is no component of the part: such a trigger says nothing about whose event it is."""
    gone: set[int] = set()
    changed = True
    while changed:
        changed = False
        for fn_id, fn in fns.items():
            if fn_id in gone:
                continue
            targets = {target[0] for target in fn.targets if target[0] in old or target[1] != "load"}
            outputs = {block._id for block in fn.outputs}
            if _is_old(targets, outputs, old) or (fn.trigger_after is not None and fn.trigger_after in gone):
                gone.add(fn_id)
                changed = True
    for fn_id in gone:
        del fns[fn_id]


def _swap_inputs(demo: Any, old: list[Any], new: list[Any]) -> None:
    """Where an event takes the `old` components as a run of its inputs, it takes `new` instead. The
    list is changed in place: events may share it (A1111 gives its prompt's submit and its Generate
    button one list), and so may the host."""
    old_ids = [block._id for block in old]
    for fn in list(demo.fns.values()) if isinstance(demo.fns, dict) else list(demo.fns):
        start = _find_run([block._id for block in fn.inputs], old_ids)
        if start is not None:
            fn.inputs[start:start + len(old)] = new
    _sync_ids(demo)


def _sync_ids(demo: Any) -> None:
    """gradio 3 keeps each event's inputs and outputs twice: the components in its function, their ids
    in its dependency, which the page gets. gradio 4 makes the latter from the former."""
    if not isinstance(demo.fns, dict):
        for fn, dependency in zip(demo.fns, demo.dependencies, strict=True):
            dependency["inputs"] = [block._id for block in fn.inputs]
            dependency["outputs"] = [block._id for block in fn.outputs]


def _find_run(ids: list[int], run: list[int]) -> int | None:
    if not run:
        return None
    for start in range(len(ids) - len(run) + 1):
        if ids[start:start + len(run)] == run:
            return start
    return None


def _named_by_events(demo: Any) -> set[int]:
    functions = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    return {block._id for fn in functions for block in (*fn.inputs, *fn.outputs)}
