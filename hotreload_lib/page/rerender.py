"""gradio 4: an open page shows a rebuilt tab without a page load.

gradio 4 re-renders the subtree of one block in an open page when the answer to an event carries a
`render_config` (the machinery of `@gr.render`: `Blocks.process_api` adds it for an event whose
function has a `renderable`, and the page's `rerender_layout` swaps that block's subtree for the one
described). The page does it for any block it has, not only a `gr.render` container: the block whose
id the answer's layout starts from. So at app start each tab of the page (a TabItem of the host's
main Tabs) gets an event that no component fires, RENDER_EVENT: the page fires it itself (a "gradio"
DOM event naming the TabItem and the event, which the page's Blocks listens for) once the server
rebuilt that tab. Its function brings the page's session up to date with the app (gradio 4 gives each
session a copy of the app's blocks and events, made when the session began), and the answer
describes the tab as it is now: the page removes the old components and the events marked as
rendered in this tab, and adds the new ones.

The components and events a rebuild makes are marked as rendered in the tab (`rendered_in`), so that
the next rebuild's answer takes them out of the page again, and the tab's classes name the page
build it is part of (BUILD_CLASS). gradio 3 has none of this: its pages reload
(javascript/hot_reload.js keeps what the user typed across it)."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

RENDER_EVENT = "hot_reload_render"
# A re-rendered tab's class names the page build it shows: a page that heard of a rebuild knows
# whether the tab it has is that one already (an answer to an earlier render may bring a later
# build), and when the answer it asked for is in place.
BUILD_CLASS = "hot-reload-build-"
log = logging.getLogger("hot_reload")


class TabRender:
    """What gradio reads of a `Renderable` (the render id the page matches `rendered_in` against, and
    the block whose subtree it describes); the function that builds the tab is the host's to run."""

    def __init__(self, render_id: int, container_id: int) -> None:
        self._id = render_id
        self.container_id = container_id


def can_rerender(demo: Any) -> bool:
    """gradio 4 (events keyed by id, per-session copies of the config); gradio 3 has neither."""
    return isinstance(getattr(demo, "fns", None), dict) and hasattr(demo, "default_config") and hasattr(
        demo, "renderables")


def prepare(demo: Any, containers: Iterable[Any]) -> list[Any]:
    """Give each of `containers` (blocks of `demo`) the event an open page fires to re-render it, once
    (the caller then recomputes the config page loads get: a page knows only the events it loaded).
    The containers that have it: none on gradio 3, or on a gradio that no longer has what this relies
    on (said in the log)."""
    if not can_rerender(demo):
        return []
    try:
        from gradio.events import EventListenerMethod
    except ImportError as error:
        log.info("[Hot Reload] rebuilt tabs reload the page: this gradio has no %s", error.name)
        return []
    ready = []
    for container in containers:
        if renderer_of(demo, container) is None:
            render = TabRender(len(demo.renderables), container._id)
            demo.renderables.append(render)

            def bring_session_up_to_date(render: TabRender = render) -> None:
                _bring_session_up_to_date(demo, render)

            demo.default_config.set_event_trigger(
                [EventListenerMethod(container, RENDER_EVENT)], bring_session_up_to_date, [], [],
                api_name=False, show_api=False, queue=True, concurrency_limit=None,
                trigger_mode="always_last", renderable=render, postprocess=False)
        ready.append(container)
    return ready


def mark_build(container: Any, build: int) -> None:
    """Name the page build `build` in `container`'s classes (in place of an earlier one)."""
    classes = [name for name in list(getattr(container, "elem_classes", None) or [])
               if not str(name).startswith(BUILD_CLASS)]
    container.elem_classes = [*classes, f"{BUILD_CLASS}{build}"]


def renderer_of(demo: Any, container: Any) -> TabRender | None:
    """The TabRender of `container`'s re-render event, if it has one."""
    if not can_rerender(demo):
        return None
    for fn in list(demo.fns.values()):
        render = getattr(fn, "renderable", None)
        if isinstance(render, TabRender) and render.container_id == container._id:
            return render
    return None


def _bring_session_up_to_date(demo: Any, render: TabRender) -> None:
    """Run by gradio in the page's session (LocalContext.blocks_config is that session's copy): the
    blocks and events the app has now, and not the ones a rebuild took out. The session's own
    versions of the other blocks (gradio keeps a block's props as an event of that page updated them)
    stay; the tab's container is the app's, with its new children and label."""
    from gradio.context import LocalContext

    session = LocalContext.blocks_config.get()
    app = demo.default_config
    if session is None or session is app:
        return
    for held, current in ((session.blocks, app.blocks), (session.fns, app.fns)):
        now = dict(current)  # one copy, made at once: a rebuild may be changing the app's meanwhile
        for key in [key for key, item in list(held.items()) if key not in now and _app_made(item)]:
            del held[key]
        for key, item in now.items():
            held.setdefault(key, item)
    session.blocks[render.container_id] = app.blocks[render.container_id]
    session.fn_id = max(session.fn_id, app.fn_id)


def _app_made(item: Any) -> bool:
    """A block or event of the app's, not one a `gr.render` of the page made for this session only."""
    rendered_in = getattr(item, "rendered_in", None)
    return rendered_in is None or isinstance(rendered_in, TabRender)
