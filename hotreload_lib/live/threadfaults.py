"""Exceptions that end threads started by live code: each reloader whose files the traceback passes
through reports it as an event of that file. One `threading.excepthook` for the process, installed
once; the hook found before it still gets every exception, so the traceback goes where it went."""
from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("hot_reload")


class ThreadFaultReporter(Protocol):
    def report_thread_failure(self, args: Any) -> None:
        """`args`: what threading.excepthook got (exc_type, exc_value, exc_traceback, thread)."""


_reporters: weakref.WeakSet[Any] = weakref.WeakSet()
_hook_lock = threading.Lock()
_wrapped_hooks: list[Callable[[Any], Any]] = []  # the hook found before ours; empty until installed


def report_thread_exceptions(reporter: ThreadFaultReporter) -> None:
    with _hook_lock:
        _reporters.add(reporter)
        if not _wrapped_hooks:
            _wrapped_hooks.append(threading.excepthook)
            threading.excepthook = _thread_excepthook


def _thread_excepthook(args: Any) -> None:
    try:
        if args.exc_type is not None and not issubclass(args.exc_type, SystemExit):
            for reporter in list(_reporters):
                reporter.report_thread_failure(args)
    except Exception:
        log.debug("reporting a thread's exception failed", exc_info=True)
    _wrapped_hooks[0](args)
