"""The flush thread of multiprocess mode: one per process, it calls every registered writer
(each pool's recorder, the thread-pool gauges) every ``FLUSH_SECONDS`` and at the
interpreter's exit, and starts again in a forked child that has writers to call."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

__all__ = ["FLUSH_SECONDS", "flush_all", "start_flushing", "write_at_each_flush"]

# How often this process's measurements are written to its files.
FLUSH_SECONDS = 0.25

logger = logging.getLogger("poolscope.instrument")

# (writer, what it writes, for the log line if it fails)
_writers: list[tuple[Callable[[], None], str]] = []
_lock = threading.Lock()
_flusher: threading.Thread | None = None


def write_at_each_flush(writer: Callable[[], None], *, what: str | None = None) -> None:
    """Call ``writer`` at each flush of this process and at its exit, for its life."""
    with _lock:
        _writers.append((writer, what or repr(writer)))
    start_flushing()


def flush_all() -> None:
    with _lock:
        writers = list(_writers)
    for writer, what in writers:
        try:
            writer()
        except Exception:  # the application must never pay for a poolscope bug
            logger.exception("poolscope could not write %s", what)


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush_all()


def start_flushing() -> None:
    """Start this process's flushing thread, once (again in a forked child)."""
    global _flusher
    with _lock:
        if _flusher is not None and _flusher.is_alive():
            return
        _flusher = threading.Thread(target=_flush_forever, name="poolscope-flush", daemon=True)
        _flusher.start()


def _forget_flusher() -> None:
    # A forked child has the parent's writers but not its threads (nor their locks).
    global _flusher, _lock
    _flusher = None
    _lock = threading.Lock()
    if _writers:
        start_flushing()


atexit.register(flush_all)
os.register_at_fork(after_in_child=_forget_flusher)
