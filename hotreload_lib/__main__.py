"""Command line: `python -m hotreload_lib watch DIR` runs the reloader without a webui and prints
one JSON line per event on stdout."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

from .events import ReloadEvent
from .reloader import ensure_started, get_events, shutdown


def _print_event(event: ReloadEvent) -> None:
    sys.stdout.write(event.to_json() + "\n")
    sys.stdout.flush()


def watch(folder: Path, force_polling: str) -> int:
    if not folder.is_dir():
        print(f"hot reload: {folder} is not a folder", file=sys.stderr)
        return 2
    get_events().subscribe(_print_event)
    ensure_started(folder, force_polling=force_polling)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotreload_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    watch_parser = commands.add_parser("watch", help="run every .py file in DIR now and on every save")
    watch_parser.add_argument("folder", type=Path)
    watch_parser.add_argument("--polling", action="store_true", help="poll instead of native file events")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    forced = "forced by --polling" if args.polling else (
        "forced by HOT_RELOAD_POLLING" if os.environ.get("HOT_RELOAD_POLLING", "") not in ("", "0") else "")
    return watch(args.folder.resolve(), forced)


if __name__ == "__main__":
    sys.exit(main())
