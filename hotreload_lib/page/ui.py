"""The "Hot Reload" tab: what is replaced right now, by which live file, and what happened lately,
with "Re-run all files" and "Restore all". Plain gradio components and events (gradio 3.41 and 4.x),
so the webui's --gradio-auth protects the buttons like every other control of the page.

Host-agnostic: the webui shows it through on_ui_tabs, the demo renders it in its own page.
"""
from __future__ import annotations

import html
import time
from typing import Any

from .server import Feed, status

ACTIVE_HEADERS = ["Target", "Mode", "Owner file", "Since", "Note"]
RECENT_HEADERS = ["#", "Time", "File", "Outcome", "Message"]
RECENT_ROWS = 30
# Element ids: the page script clicks the refresh button when an event arrives while the tab shows.
REFRESH_ID = "hot_reload_refresh"


def clock(timestamp: float) -> str:
    """The time of day for today, the date too for older moments (server time)."""
    moment = time.localtime(timestamp)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment)


def table(headers: list[str], rows: list[list[str]]) -> dict[str, Any]:
    # The {"headers", "data"} form keeps the headers of an empty table on gradio 3.41 (a bare []
    # loses them) and is accepted unchanged by gradio 4.
    return {"headers": headers, "data": rows}


def active_rows(state: dict[str, Any]) -> list[list[str]]:
    return [[row["target"], row["mode"], row["owner_file"], clock(row["since"]), row["note"]]
            for row in state["active"]]


def recent_rows(state: dict[str, Any]) -> list[list[str]]:
    rows = []
    for event in reversed(state["recent"][-RECENT_ROWS:]):
        where = ""
        if event["error"] and event["error"]["line"]:
            where = f" (line {event['error']['line']})"
        rows.append([str(event["seq"]), clock(event["time"]), event["file"], event["outcome"],
                     event["message"] + where])
    return rows


def summary_html(state: dict[str, Any], note: str = "") -> str:
    folder = state["folder"] or "—"
    mode = state["mode"] + (f" ({state['mode_reason']})" if state["mode_reason"] else "")
    files = len(state["files"])
    failing = sum(1 for outcome in state["files"].values() if outcome == "error")
    lines = [
        f"<b>Live folder:</b> <code>{html.escape(str(folder))}</code>",
        f"<b>Watching:</b> {html.escape(mode)}",
        f"<b>Live files:</b> {files}" + (f", {failing} failing" if failing else ""),
    ]
    for event in state.get("failing", []):
        error = event["error"] or {}
        where = f":{error['line']}" if error.get("line") else ""
        lines.append(f"&nbsp;&nbsp;<b>failing:</b> <code>{html.escape(event['file'] + where)}</code> "
                     f"{html.escape(event['message'])}")
    for tree in state.get("tracked", []):
        updated = ", ".join(f"{html.escape(name)} ×{count}" for name, count in tree["updated"].items())
        lines.append(f"<b>Developed live:</b> <code>{html.escape(tree['label'])}</code> "
                     f"({html.escape(tree['folder'])}; {html.escape(tree['mode'])})"
                     + (f" — updated: {updated}" if updated else " — no module updated yet"))
    if state.get("waiting"):
        lines.append("<b>Waiting for the generation to finish:</b> "
                     + ", ".join(f"<code>{html.escape(name)}</code>" for name in state["waiting"]))
    if note:
        lines.append(f"<b>{html.escape(note)}</b>")
    return "<div class='hot-reload-summary'>" + "<br>".join(lines) + "</div>"


def render(feed: Feed, note: str = "") -> tuple[str, dict[str, Any], dict[str, Any]]:
    state = status(feed, recent=RECENT_ROWS)
    return (summary_html(state, note), table(ACTIVE_HEADERS, active_rows(state)),
            table(RECENT_HEADERS, recent_rows(state)))


def rerun_all(feed: Feed) -> str:
    reloader = feed.reloader()
    if reloader is None or not reloader.running:
        return "Hot reload is off: nothing to run."
    reloader.rerun_all()
    return "Running every live file again; each one reports as a toast."


def restore_all(feed: Feed) -> str:
    """Undo every replacement of every live file. The files stay: a save (or "Re-run all files")
    applies them again. Every open page hears of it through the event stream."""
    changed = feed.registry.restore_all()
    what = ", ".join(changed) if changed else "nothing was replaced"
    feed.events.publish(file="", path="", outcome="info", restored=tuple(changed),
                        message=f"Restore all: {what}. Save a live file or press \"Re-run all files\" "
                                "to apply it again.")
    return f"Restored: {what}."


def build_panel(feed: Feed) -> Any:
    """The tab's gr.Blocks (the host renders it into its own page)."""
    import gradio as gr

    with gr.Blocks(analytics_enabled=False) as panel:
        summary = gr.HTML(lambda: render(feed)[0], elem_id="hot_reload_summary")
        with gr.Row():
            refresh = gr.Button("Refresh", elem_id=REFRESH_ID)
            rerun = gr.Button("Re-run all files", variant="primary", elem_id="hot_reload_rerun_all")
            restore = gr.Button("Restore all", variant="stop", elem_id="hot_reload_restore_all")
        gr.Markdown("### Active replacements")
        active = gr.Dataframe(lambda: render(feed)[1], headers=ACTIVE_HEADERS, datatype=["str"] * len(ACTIVE_HEADERS),
                              interactive=False, wrap=True, elem_id="hot_reload_active")
        gr.Markdown("### Recent events")
        recent = gr.Dataframe(lambda: render(feed)[2], headers=RECENT_HEADERS, datatype=["str"] * len(RECENT_HEADERS),
                              interactive=False, wrap=True, elem_id="hot_reload_recent")
        outputs = [summary, active, recent]
        refresh.click(fn=lambda: render(feed), outputs=outputs)
        rerun.click(fn=lambda: render(feed, rerun_all(feed)), outputs=outputs)
        restore.click(fn=lambda: render(feed, restore_all(feed)), outputs=outputs)
    return panel
