"""`python -m hotreload_lib demo [DIR] [--track SRC ...]`: the browser side without a webui.

A small gradio page served on 127.0.0.1 and built the way the webui builds its own: a script.js-like
file defining onUiLoaded, then javascript/hot_reload.js, in the page head; style.css before </body>
(both through gradio's TemplateResponse, as the webui injects them); A1111's GZip middleware; the
hot reload routes added after launch; the "Hot Reload" panel as a tab, and an "Inputs" tab with one
component of each kind the page keeps across a reload. It watches DIR (default: a folder of its own
in the system's temporary folder, where playground/greet.py is copied on first use, so the demo
never edits the repository's files); greet.py replaces greet() below.

Each tracked tree SRC is an extension as the webui sees it: its javascript/*.js in the head and its
style.css before </body>, linked by `file=<path>?<mtime>` URLs that gradio's own file route serves.
DemoWebui plays the rest of the webui's part: a generation that runs (a flag), and Reload UI (the
tracked trees' modules are imported afresh, as the extensions' scripts import them again, and the
demo serves a new app, as the webui does).

The browser tests drive this same page, so what a new user sees first is what is tested.
"""
from __future__ import annotations

import asyncio
import html
import importlib
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse

from .hooks import HostHooks
from .page.server import Feed, add_routes
from .page.stream import GradioServer
from .page.ui import build_panel

log = logging.getLogger("hot_reload")
PACKAGE_DIR = Path(__file__).parent
REPO_ROOT = PACKAGE_DIR.parent
PLAYGROUND = REPO_ROOT / "playground"
DEFAULT_PORT = 7870  # beside the webui's 7860; a free port when it is taken
ASSET_ROUTE = "/hot-reload-demo/"
# name in the page -> file served: the head scripts in the webui's order, then the stylesheet.
HEAD_SCRIPTS = {
    "script.js": PACKAGE_DIR / "demo_script.js",
    "hot_reload.js": REPO_ROOT / "javascript" / "hot_reload.js",
}
STYLESHEETS = {"style.css": REPO_ROOT / "style.css"}
GZIP_MINIMUM_SIZE = 1000  # as the webui's setup_middleware


def missing_page_files() -> list[str]:
    """The page's files that are not here. javascript/ and style.css are the extension's, beside the
    package in a clone; a package installed by pip has the watcher only."""
    return [str(path.relative_to(REPO_ROOT)) for path in (*HEAD_SCRIPTS.values(), *STYLESHEETS.values())
            if not path.is_file()]


def greet(name: str) -> str:
    """What the Greet button says; playground/greet.py replaces it while the demo runs."""
    return f"Hello, {name or 'stranger'}!"


# The Inputs tab: one component of each kind the page keeps across a reload, by elem_id, with its
# default. DemoPage.input_defaults starts as a copy: a test changes one between two builds.
INPUT_DEFAULTS: dict[str, Any] = {
    "hot_reload_demo_prompt": "a lighthouse at dusk",
    "hot_reload_demo_seed": -1,
    "hot_reload_demo_steps": 20,
    "hot_reload_demo_sampler": "Euler a",
    "hot_reload_demo_styles": [],
    "hot_reload_demo_hires": False,
    "hot_reload_demo_format": "PNG",
    "hot_reload_demo_save": ["Images"],
}


def show_inputs(*values: Any) -> str:
    """What the server got from the Inputs tab, as JSON keyed by elem_id."""
    return json.dumps(dict(zip(INPUT_DEFAULTS, values, strict=True)))


def build_inputs(defaults: dict[str, Any]) -> None:
    """The Inputs tab's components, inside the Blocks being built."""
    import gradio as gr

    def value(elem_id: str) -> dict[str, Any]:
        return {"value": defaults[elem_id], "elem_id": elem_id}

    gr.Markdown("Change anything here: when hot reload reloads this page (*Reload UI*, *Reload page*, a UI "
                "rebuilt on the server) it comes back, with the selected tab and the scroll. What you left "
                "alone takes the new build's default.")
    inputs = [gr.Textbox(label="Prompt", lines=2, **value("hot_reload_demo_prompt"))]
    with gr.Row():
        inputs.append(gr.Number(label="Seed", precision=0, **value("hot_reload_demo_seed")))
        inputs.append(gr.Slider(1, 150, step=1, label="Steps", **value("hot_reload_demo_steps")))
    with gr.Row():
        inputs.append(gr.Dropdown(["Euler a", "DPM++ 2M", "DDIM"], label="Sampler", **value("hot_reload_demo_sampler")))
        inputs.append(gr.Dropdown(["Cinematic", "Watercolour", "Line art"], multiselect=True, label="Styles",
                                  **value("hot_reload_demo_styles")))
    with gr.Row():
        inputs.append(gr.Checkbox(label="Hires. fix", **value("hot_reload_demo_hires")))
        inputs.append(gr.Radio(["PNG", "JPEG", "WebP"], label="Format", **value("hot_reload_demo_format")))
        inputs.append(gr.CheckboxGroup(["Images", "Grids", "Infotext"], label="Save", **value("hot_reload_demo_save")))
    button = gr.Button("Show what the server gets", elem_id="hot_reload_demo_show")
    shown = gr.Textbox(label="The server got", interactive=False, elem_id="hot_reload_demo_shown")
    button.click(fn=show_inputs, inputs=inputs, outputs=[shown])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def default_port(host: str = "127.0.0.1") -> int:
    """DEFAULT_PORT when nothing listens there, so the demo's address stays the same between runs."""
    with socket.socket() as probe:
        try:
            probe.bind((host, DEFAULT_PORT))
        except OSError:
            return free_port(host)
    return DEFAULT_PORT


def demo_folder() -> Path:
    """The demo's live folder: kept between runs (your edits stay), made from playground/ once."""
    folder = Path(tempfile.gettempdir()) / "sd-webui-hot-reload-demo"
    if not folder.exists():
        shutil.copytree(PLAYGROUND, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _asset_url(name: str, path: Path) -> str:
    # Relative, with the file's mtime as a cache breaker, like the webui's own file=...?mtime.
    return f".{ASSET_ROUTE}{name}?{path.stat().st_mtime}"


def webpath(path: str) -> str:
    """The URL the webui links a page asset of an extension by (its ui_gradio_extensions.webpath):
    gradio's file route, the path relative to the webui's folder (here: the current folder, from
    which gradio resolves it) when it lies inside, else absolute, and the mtime as a cache breaker.
    "" when the file is gone."""
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        return ""
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive
        shown = os.pardir
    if shown.startswith(os.pardir):
        shown = os.path.abspath(path)
    return f"file={shown.replace(os.sep, '/')}?{mtime}"


def page_tags(scripts: Sequence[str] = (), stylesheets: Sequence[str] = ()) -> tuple[bytes, bytes]:
    """(what goes before </head>, what goes before </body>): ours, then the URLs of other
    extensions' `scripts` and `stylesheets`, in the webui's order."""
    script_urls = [_asset_url(name, path) for name, path in HEAD_SCRIPTS.items()] + list(scripts)
    stylesheet_urls = [_asset_url(name, path) for name, path in STYLESHEETS.items()] + list(stylesheets)
    head = "".join(f'<script type="text/javascript" src="{html.escape(url)}"></script>\n' for url in script_urls)
    body = "".join(f'<link rel="stylesheet" property="stylesheet" href="{html.escape(url)}">'
                   for url in stylesheet_urls)
    return head.encode("utf-8"), body.encode("utf-8")


def install_page_tags() -> None:
    """Put the page's tags into every page gradio serves, as the webui does (it wraps gradio's
    TemplateResponse the same way). Once per process; the tags carry the files' current mtimes, and
    the tracked trees' assets of the DemoWebui that serves the request's app."""
    import gradio.routes

    templates = gradio.routes.templates
    if getattr(templates.TemplateResponse, "hot_reload_demo", False):
        return
    original = templates.TemplateResponse

    def template_response(*args: Any, **kwargs: Any) -> Any:
        response = original(*args, **kwargs)
        request = (getattr(response, "context", None) or {}).get("request")
        webui = getattr(getattr(getattr(request, "app", None), "state", None), "hot_reload_demo_webui", None)
        head, body = page_tags(*webui.asset_urls()) if webui is not None else page_tags()
        response.body = response.body.replace(b"</head>", head + b"</head>").replace(b"</body>", body + b"</body>")
        response.init_headers()
        return response

    template_response.hot_reload_demo = True  # type: ignore[attr-defined]
    templates.TemplateResponse = template_response


def _file_endpoint(path: Path) -> Callable[[], Any]:
    # No parameters: the route serves this one file and nothing a request names.
    def serve() -> Any:
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    return serve


def add_asset_routes(app: Any) -> None:
    for name, path in {**HEAD_SCRIPTS, **STYLESHEETS}.items():
        app.add_api_route(ASSET_ROUTE + name, _file_endpoint(path), methods=["GET"], include_in_schema=False)


def _add_webui_middleware(app: Any) -> None:
    """The webui's GZip middleware: the event stream must get through it unbuffered."""
    app.middleware_stack = None
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE)
    app.build_middleware_stack()


class DemoWebui:
    """What the webui lends the reloader and the page, played by the demo: the tracked trees'
    page assets, whether a generation runs (`busy_reason`, set by the tests and the screenshot
    script: "" means idle), and Reload UI, which serves a new app."""

    def __init__(self, tracked: list[Path] | None = None) -> None:
        self.tracked = list(tracked or [])
        self.busy_reason = ""
        self.page: DemoPage | None = None

    def hooks(self) -> HostHooks:
        return HostHooks(busy=lambda: self.busy_reason, asset_url=webpath, reload_ui=self.reload_ui,
                         why_no_reload_ui=self.why_no_reload_ui,
                         extension_folders=lambda: [str(tree) for tree in self.tracked])

    def asset_urls(self) -> tuple[list[str], list[str]]:
        """(script URLs, stylesheet URLs) of the tracked trees, found anew for each page load."""
        scripts = [webpath(str(path)) for tree in self.tracked for path in sorted((tree / "javascript").glob("*.js"))]
        stylesheets = [webpath(str(tree / "style.css")) for tree in self.tracked if (tree / "style.css").is_file()]
        return [url for url in scripts if url], [url for url in stylesheets if url]

    def why_no_reload_ui(self) -> str:
        page = self.page
        return "the demo page is not served" if page is None or page.demo is None else ""

    def reload_ui(self) -> str:
        page = self.page
        why_not = self.why_no_reload_ui()
        if why_not or page is None:
            return why_not
        # Elsewhere, as the webui's main loop does it: the reloader's thread goes on meanwhile.
        threading.Thread(target=_in_an_event_loop, args=(lambda: self._rebuild(page),),
                         name="hot-reload-demo-reload-ui", daemon=True).start()
        return ""

    @staticmethod
    def _rebuild(page: DemoPage) -> None:
        """The webui's Reload UI: the tracked modules leave sys.modules (before_reload), are imported
        again (as the extensions' scripts import them), a new app is served, every live file runs again."""
        reloader = page.feed.reloader()
        for name in reloader.before_reload_ui() if reloader is not None else []:
            try:
                importlib.import_module(name)
            except Exception:  # the webui reports a script that fails to load and goes on
                log.exception("[Hot Reload] demo: importing %s again failed", name)
        page.reload_ui()
        if reloader is not None:
            reloader.rerun_all()


def _in_an_event_loop(work: Callable[[], Any]) -> None:
    """Run `work` in a thread that has an event loop, as the webui's main thread has: gradio 4 makes
    its queue's locks only there, and without them every event of the new app fails."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        work()
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class DemoPage:
    """The demo's gradio page. launch() builds a new Blocks and app and serves them, as the webui
    does at start; reload_ui() closes the server and does it again on the same port, as the webui's
    "Reload UI" does (the page's event stream drops and reconnects)."""

    def __init__(self, feed: Feed, *, host: str = "127.0.0.1", port: int | None = None,
                 auth: list[tuple[str, str]] | None = None, webui: DemoWebui | None = None) -> None:
        self.feed = feed
        self.host = host
        self.port = port or free_port(host)
        self.auth = auth
        self.webui = webui or DemoWebui()
        self.webui.page = self
        self.input_defaults = dict(INPUT_DEFAULTS)
        self.demo: Any = None
        self.app: Any = None
        self.url = ""

    def build(self) -> Any:
        import gradio as gr

        reloader = self.feed.reloader()
        folder = reloader.folder if reloader is not None else None
        # Built on its own and rendered into the tab, as the webui does with on_ui_tabs' Blocks.
        panel = build_panel(self.feed)
        tracking = "".join(f" Tracking `{tree}`: save its `style.css` and this page takes it up; save a script of "
                           "its `javascript/` and a toast offers to reload the page." for tree in self.webui.tracked)
        with gr.Blocks(title="sd-webui-hot-reload demo", analytics_enabled=False) as demo:
            gr.Markdown(
                "## sd-webui-hot-reload demo\n"
                f"Watching `{folder}`. Edit `greet.py` there and save: a toast says what was reloaded, and "
                "**Greet** answers with the new code. Break it (e.g. `1/0`) and save: an error toast with the line. "
                "Delete it: the original `greet()` is back." + tracking
            )
            with gr.Tabs():
                with gr.Tab("Greet"):
                    # elem_id: the id the webui's script.js waits for before it runs onUiLoaded.
                    name = gr.Textbox(label="Name", value="webui user", elem_id="txt2img_prompt")
                    button = gr.Button("Greet", variant="primary", elem_id="hot_reload_demo_greet")
                    answer = gr.Textbox(label="Greeting", interactive=False, elem_id="hot_reload_demo_answer")
                    button.click(fn=greet, inputs=[name], outputs=[answer])
                with gr.Tab("Inputs"):
                    build_inputs(self.input_defaults)
                with gr.Tab("Hot Reload", elem_id="tab_hot_reload"):
                    panel.render()
        return demo

    def launch(self) -> str:
        install_page_tags()
        self.demo = self.build()
        self.demo.queue()
        app, _local_url, _share_url = self.demo.launch(
            server_name=self.host, server_port=self.port, auth=self.auth, prevent_thread_lock=True,
            quiet=True, show_api=False, allowed_paths=[str(tree) for tree in self.webui.tracked],
        )
        app.state.hot_reload_demo_webui = self.webui
        if hasattr(app, "stop_event") and app.stop_event is None:
            # gradio 4 makes its app's stop event only when this thread has an event loop, which it
            # no longer has after an asyncio.run() here; without the event, close() fails silently
            # and leaves the server on its port, so Reload UI's next launch() cannot have it.
            app.stop_event = asyncio.Event()
        _add_webui_middleware(app)
        add_asset_routes(app)
        add_routes(app, self.feed, server=GradioServer(self.demo))
        self.app = app
        self.url = f"http://{self.host}:{self.port}/"
        return self.url

    def reload_ui(self) -> str:
        self.demo.close()
        return self.launch()

    def close(self) -> None:
        if self.demo is not None:
            self.demo.close()
            self.demo = self.app = None


def run(folder: Path, force_polling: str, port: int | None, tracked: list[Path] | None = None) -> int:
    """The command: watch `folder` (and track `tracked`) with this process's reloader, serve the
    page until Ctrl+C."""
    from .page.server import process_feed
    from .reloader import ensure_started, shutdown

    webui = DemoWebui(tracked)
    ensure_started(folder, force_polling=force_polling, host=webui.hooks(), tracked=webui.tracked)
    page = DemoPage(process_feed(), port=port or default_port(), webui=webui)
    try:
        url = page.launch()
        print(f"hot reload demo: open {url} and edit the .py files in {folder} (Ctrl+C stops)", flush=True)
        print(f"hot reload demo: or save, then `python -m hotreload_lib apply --url {url.rstrip('/')}` says what "
              "happened", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        page.close()
        shutdown()
    return 0
