"""The thread pool that runs sync routes, exported beside the connection pool: busy
threads, the limit, calls waiting for a thread. Beside the pool's gauges it tells thread
starvation (fastapi/fastapi#3205) from pool exhaustion."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from anyio import CapacityLimiter, to_thread
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from poolscope import metrics as names
from poolscope.exporters import multiprocess_enabled, write_threadpool_files

__all__ = ["ThreadPoolCollector", "instrument_threadpool"]


# The thread pool beside the connection pool. Starlette and FastAPI run every sync route,
# sync dependency and a sync route's response validation on anyio's default thread
# limiter. When all its threads wait for a connection that only a request without a
# thread can return, the service stalls with the database idle (fastapi/fastapi#3205); the
# pool's gauges alone read that as pool exhaustion. anyio keeps one default limiter per
# event loop, reachable only from inside that loop: instrument_threadpool() takes it there
# (or is handed one) and the collector reads it at scrape time, so the gauges never drift.
class ThreadPoolCollector(Collector):
    """Busy threads, the limit and the calls waiting for a thread of one limiter."""

    def __init__(self, limiter: CapacityLimiter) -> None:
        self.limiter = limiter
        self._close: Callable[[], None] | None = None

    def reading(self) -> tuple[int, int, int]:
        """Busy threads, the limit, calls waiting for a thread: now."""
        statistics = self.limiter.statistics()
        return (
            statistics.borrowed_tokens,
            int(statistics.total_tokens),
            statistics.tasks_waiting,
        )

    def describe(self) -> Iterable[Metric]:
        return [_family(name, None) for name in names.THREADPOOL_GAUGES]

    def collect(self) -> Iterable[Metric]:
        return [
            _family(name, float(value))
            for name, value in zip(names.THREADPOOL_GAUGES, self.reading(), strict=True)
        ]

    def close(self) -> None:
        """Stop exporting: leave the registry, or stop writing the multiprocess files."""
        close, self._close = self._close, None
        if close is not None:
            close()


def _family(name: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, names.HELP[name])
    if value is not None:
        family.add_metric([], value)
    return family


def instrument_threadpool(
    *,
    registry: CollectorRegistry = REGISTRY,
    limiter: CapacityLimiter | None = None,
    multiprocess: bool | None = None,
) -> ThreadPoolCollector:
    """Export the thread pool that runs sync routes to ``registry`` until ``close()``.

    Without ``limiter``, call it inside the event loop that serves the app (its lifespan,
    for example): anyio's default thread limiter belongs to that loop. ``multiprocess``
    (default: whether ``PROMETHEUS_MULTIPROC_DIR`` is set) writes the gauges to
    prometheus_client's multiprocess files instead, as ``instrument()`` does the pool's:
    a scrape then shows the sum over the worker processes.
    """
    if limiter is None:
        limiter = to_thread.current_default_thread_limiter()
    collector = ThreadPoolCollector(limiter)
    if multiprocess_enabled() if multiprocess is None else multiprocess:
        collector._close = write_threadpool_files(collector.reading)
    else:
        registry.register(collector)
        collector._close = lambda: registry.unregister(collector)
    return collector
