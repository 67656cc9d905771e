"""Command line, without a webui:
    python -m hotreload_lib watch DIR [--track SRC ...] [--port N]
                                         run the reloader and print one JSON line per event on stdout;
                                         the loaded modules of each SRC tree are updated in place
                                         (stdout carries nothing else: what live files print goes to stderr);
                                         with --port, `apply --url http://127.0.0.1:N` asks it too
    python -m hotreload_lib apply [--url URL] [--timeout S] [--now] [--json] [--auth USER:PASS]
                                         wait until the files saved so far are applied by the webui at URL
                                         (default http://127.0.0.1:7860) and print what happened; exit 0
                                         when all applied, 1 when something failed, 2 when no answer
    python -m hotreload_lib demo [DIR] [--track SRC ...]
                                         the same reloader behind a small page on 127.0.0.1 that shows
                                         the webui's toasts and Hot Reload tab (DIR: a copy of playground/
                                         in the temporary folder); each SRC's style.css and javascript/
                                         are linked as the webui links an extension's"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TextIO

from .client import DEFAULT_TIMEOUT, DEFAULT_URL
from .client import run as run_apply
from .events import ReloadEvent
from .reloader import ensure_started, get_events, get_reloader, shutdown


def _stdout_for_events_only() -> TextIO:
    """The JSON stream, on what was stdout; from now on the process's stdout (file descriptor 1,
    so also what a live file prints, or a program it starts) goes to stderr. `> events.jsonl`
    then holds events only, one per line."""
    sys.stdout.flush()
    try:
        stdout_fd, stderr_fd = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced streams (an embedding program): leave them
        return sys.stdout
    stream = os.fdopen(os.dup(stdout_fd), "w", encoding="utf-8", buffering=1)
    os.dup2(stderr_fd, stdout_fd)
    return stream


def watch(folder: Path, force_polling: str, tracked: list[Path], port: int | None = None) -> int:
    """Until interrupted (exit 0), or until the reloader cannot work at all (exit 1: watchdog is
    missing; the event said why), so a script driving it is not left waiting. With `port` (0: a free
    one), `apply` calls are answered on 127.0.0.1 (the address is said on stderr)."""
    from .page.apply import ApplyServer

    try:
        server = ApplyServer(get_reloader, port) if port is not None else None
    except OSError as error:
        print(f"hot reload: cannot answer on 127.0.0.1:{port}: {error}", file=sys.stderr)
        return 2
    events = get_events()
    stream = _stdout_for_events_only()

    def print_event(event: ReloadEvent) -> None:
        stream.write(event.to_json() + "\n")
        stream.flush()

    events.subscribe(print_event)
    inactive = threading.Event()

    def note_inactive(event: ReloadEvent) -> None:
        reloader = get_reloader()
        if reloader is not None and reloader.mode == "inactive":
            inactive.set()

    events.subscribe(note_inactive)
    ensure_started(folder, force_polling=force_polling, tracked=tracked)
    if server is not None:
        server.start()
        print(f"hot reload: answering apply calls on {server.url}", file=sys.stderr, flush=True)
    try:
        inactive.wait()
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotreload_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    watch_parser = commands.add_parser("watch", help="run every .py file in DIR now and on every save")
    watch_parser.add_argument("folder", type=Path)
    demo_parser = commands.add_parser("demo", help="serve a page on 127.0.0.1 that shows a toast per reload")
    demo_parser.add_argument("folder", type=Path, nargs="?", default=None,
                             help="default: a copy of playground/ in the temporary folder")
    demo_parser.add_argument("--port", type=int, default=None, help="default: 7870, or a free port when taken")
    watch_parser.add_argument("--port", type=int, default=None,
                              help="answer `apply` calls on 127.0.0.1:PORT (0: a free port, said on stderr)")
    for command in (watch_parser, demo_parser):
        command.add_argument("--track", type=Path, action="append", default=[], metavar="SRC",
                             help="a source tree whose loaded modules follow its edits in place (repeatable)")
        command.add_argument("--polling", action="store_true", help="poll instead of native file events")
    apply_parser = commands.add_parser("apply", help="wait until what was saved is applied; print what happened")
    apply_parser.add_argument("--url", default=DEFAULT_URL, help=f"the webui's address (default {DEFAULT_URL})")
    apply_parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                              help=f"seconds to wait at most (default {DEFAULT_TIMEOUT:g})")
    apply_parser.add_argument("--now", action="store_true",
                              help="apply what waits for a running generation at once (the page's Apply now)")
    apply_parser.add_argument("--since", type=int, default=None, metavar="ID",
                              help="report the events after this id (default: since the previous apply)")
    apply_parser.add_argument("--auth", default="", metavar="USER:PASS", help="the login of --gradio-auth")
    apply_parser.add_argument("--json", action="store_true", help="print the server's JSON answer instead")
    args = parser.parse_args(argv)
    if args.command == "apply":
        if args.timeout < 0:
            parser.error("--timeout must be 0 or more seconds")
        return run_apply(args.url, timeout=args.timeout, now=args.now, since=args.since, auth=args.auth,
                         as_json=args.json)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    forced = "forced by --polling" if args.polling else (
        "forced by HOT_RELOAD_POLLING" if os.environ.get("HOT_RELOAD_POLLING", "") not in ("", "0") else "")
    if args.command == "demo":
        try:
            from .demo import demo_folder, missing_page_files, run
        except ImportError as error:  # gradio (starlette with it) is the webui's, no dependency of ours
            print(f"hot reload: the demo needs gradio ({error}): run it from a clone, ./dev.sh demo", file=sys.stderr)
            return 2
        missing = missing_page_files()
        if missing:
            print(f"hot reload: the demo serves the repository's {', '.join(missing)}, which pip does not install: "
                  "run it from a clone, ./dev.sh demo", file=sys.stderr)
            return 2
        folder = (args.folder or demo_folder()).resolve()
    else:
        folder = args.folder.resolve()
    if not folder.is_dir():
        print(f"hot reload: {folder} is not a folder", file=sys.stderr)
        return 2
    tracked = [path.resolve() for path in args.track]
    missing = [str(path) for path in tracked if not path.is_dir()]
    if missing:
        print(f"hot reload: --track {', '.join(missing)}: not a folder", file=sys.stderr)
        return 2
    if args.command == "demo":
        return run(folder, forced, args.port, tracked)
    return watch(folder, forced, tracked, args.port)


if __name__ == "__main__":
    sys.exit(main())
