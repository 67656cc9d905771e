"""What the reloader watches: a few kinds of folder behind one small protocol, so the loop hands
each due path to the root it lies in and never asks which kind that is (hupper's interchangeable
monitors are the model). Two kinds: the live folder (livefolder.py), whose .py files run as live
files, and the tracked trees of extensions developed live (trackedtree.py), whose edits update the
modules loaded from them."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..events import Reporter


class WatchedRoot(Protocol):
    folder: Path
    reporter: Reporter  # publishes its events, its files named as the page shows them

    def sync(self, *, again: bool) -> None:
        """Bring what runs in line with the folder on disk. `again`: run everything present once
        more (the start, "Re-run all files"); otherwise only what changed (events may have been missed)."""

    def handle(self, path: Path) -> None:
        """`path`, below the folder, changed: a file saved, created or deleted, or a folder moved."""

    def release(self, *, stopping: bool) -> None:
        """Undo everything this root's files did: the folder is gone, or (`stopping`) hot reload stops."""


def owner_of(roots: list[WatchedRoot], path: Path) -> WatchedRoot | None:
    """The first of `roots` (listed in the order of precedence) that `path` lies in."""
    return next((root for root in roots if path == root.folder or root.folder in path.parents), None)
