"""Adds --hot-reload-dir to the webui's command line. The host calls preload(parser) once per process."""
import argparse


def preload(parser: argparse.ArgumentParser) -> None:
    # SD.Next preloads every extension folder, and a host may preload twice: never re-add the flag.
    if any("--hot-reload-dir" in action.option_strings for action in getattr(parser, "_actions", [])):
        return
    parser.add_argument(
        "--hot-reload-dir",
        type=str,
        default=None,
        metavar="DIR",
        help="sd-webui-hot-reload: run every .py file in DIR inside the webui, again on every save "
        "(default: the setting, else hot-reload/ in the webui's data folder)",
    )
