"""The thread-pool gauges in prometheus_client's multiprocess mode.

A scrape reads one worker's registry, so the collector that reads a limiter at scrape time
would show that worker's threads only; instead each process writes its limiters' figures
to its files at every flush (``FLUSH_SECONDS``), as the pool gauges are, and the scrape
shows the sum over the live processes (``livesum``): the busy threads and the limit of the
whole service.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from prometheus_client import Gauge

from poolscope import metrics as names
from poolscope.exporters._flush import write_at_each_flush
from poolscope.exporters._multiprocess import require_multiprocess_values

__all__ = ["ThreadPoolReading", "write_threadpool_files"]

# Busy threads, the limit, calls waiting for a thread: what one limiter reads now.
ThreadPoolReading = Callable[[], tuple[int, int, int]]

_lock = threading.Lock()
_readings: list[ThreadPoolReading] = []
_gauges: tuple[Gauge, Gauge, Gauge] | None = None
_writing = False


def write_threadpool_files(reading: ThreadPoolReading) -> Callable[[], None]:
    """Write what ``reading`` returns, summed with this process's other limiters, at each
    flush; returns the function that stops it (the gauges then drop its share)."""
    global _gauges, _writing
    require_multiprocess_values()
    with _lock:
        if _gauges is None:
            # One object per metric and process: two would overwrite each other's entry.
            _gauges = (
                _gauge(names.THREADPOOL_BUSY_THREADS),
                _gauge(names.THREADPOOL_LIMIT),
                _gauge(names.THREADPOOL_WAITING),
            )
        _readings.append(reading)
        if not _writing:
            # For the process's life: with no limiter left, it writes zeros.
            write_at_each_flush(_write, what="the thread-pool gauges")
            _writing = True
    _write()

    def stop() -> None:
        with _lock:
            if reading in _readings:
                _readings.remove(reading)
            _write_locked()

    return stop


def _forget_lock() -> None:
    # A forked child has the parent's readings but not its threads, nor their locks.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_lock)


def _gauge(name: str) -> Gauge:
    return Gauge(name, names.HELP[name], registry=None, multiprocess_mode="livesum")


def _write() -> None:
    # One write at a time: a flush that read a limiter just before stop() removed it must
    # not write its total after stop()'s.
    with _lock:
        _write_locked()


def _write_locked() -> None:
    if _gauges is None:
        return
    totals = [0, 0, 0]
    for reading in _readings:
        for index, value in enumerate(reading()):
            totals[index] += value
    for gauge, total in zip(_gauges, totals, strict=True):
        gauge.set(total)
