"""Where an instrumented pool's measurements go: a prometheus_client registry, or
prometheus_client's multiprocess files when a service runs several worker processes.

Both sit behind ``poolscope._recorder.Recorder``; the pool and ``instrument()`` never ask
which one they hold. ``write_threadpool_files`` is the multiprocess way to the thread-pool
gauges, which a single process reads at scrape time (``poolscope.fastapi``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from poolscope._recorder import Recorder
from poolscope.exporters._multiprocess import MULTIPROC_DIR_ENV, multiprocess_enabled
from poolscope.exporters._multiprocess import recorder_for as _multiprocess_recorder
from poolscope.exporters._registry import exporter_for
from poolscope.exporters._threadpool_files import write_threadpool_files

__all__ = [
    "MULTIPROC_DIR_ENV",
    "multiprocess_enabled",
    "recorder_for",
    "write_threadpool_files",
]


def recorder_for(name: str, *, registry: CollectorRegistry, multiprocess: bool) -> Recorder:
    """The recorder of pool ``name``: this process's multiprocess one, or ``registry``'s."""
    if multiprocess:
        return _multiprocess_recorder(name)
    return exporter_for(registry).recorder(name)
