"""Adds --hot-reload-dir and --hot-reload-track to the webui's command line. The host calls
preload(parser) once per process."""
import argparse


class _AppendFolder(argparse.Action):
    """Repeatable, into a fresh list: argparse's own "append" adds to its default list object, which
    the webui's two parses (a lenient one, then the strict one) would fill twice."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])


def preload(parser: argparse.ArgumentParser) -> None:
    # SD.Next preloads every extension folder, and a host may preload twice: never re-add a flag.
    known = {option for action in getattr(parser, "_actions", []) for option in action.option_strings}
    if "--hot-reload-dir" not in known:
        parser.add_argument(
            "--hot-reload-dir",
            type=str,
            default=None,
            metavar="DIR",
            help="sd-webui-hot-reload: run every .py file in DIR inside the webui, again on every save "
            "(default: the setting, else hot-reload/ in the webui's data folder)",
        )
    if "--hot-reload-track" not in known:
        # A list default (not None): the host's /sdapi/v1/cmd-flags types each flag by its default.
        parser.add_argument(
            "--hot-reload-track",
            action=_AppendFolder,
            default=[],
            metavar="DIR",
            help="sd-webui-hot-reload: an extension (or any source tree) you develop: its loaded modules, "
            "scripts, style.css and javascript/ follow your edits in place (repeatable)",
        )
