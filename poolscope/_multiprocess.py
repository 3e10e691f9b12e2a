"""prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``): real metric objects
whose values live in per-process files that ``MultiProcessCollector`` sums at scrape time.

A scrape-time collector would only see the process that serves the scrape, so here the
gauges are written on every checkout and return (from the pool's own counts, so they
never drift) in ``livesum`` mode: the sum over live processes. That costs the hot path a
few locked file writes, and a gauge shows the state at the last checkout or return.
Counters and histograms stay in the files after ``close()``: prometheus_client cannot
forget a series in this mode; gauges go to 0.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, values
from sqlalchemy.pool import QueuePool

from poolscope import _names as names
from poolscope._collector import HELP
from poolscope._errors import PoolscopeError

__all__ = ["MULTIPROC_DIR_ENV", "MultiprocessRecorder", "multiprocess_enabled", "recorder_for"]

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR_ENV))


@dataclass(frozen=True, slots=True)
class _Metrics:
    count: Gauge
    max: Gauge
    idle_max: Gauge
    pending: Gauge
    overflow: Gauge
    leaked: Gauge
    timeouts: Counter
    checkouts: Counter
    connects: Counter
    invalidations: Counter
    pools_created: Counter
    leaks: Counter
    gc_reclaimed: Counter
    errors: Counter
    wait: Histogram
    use: Histogram
    create: Histogram


_metrics: _Metrics | None = None
_metrics_lock = threading.Lock()


def _process_metrics() -> _Metrics:
    """One object per metric and process (two would overwrite each other's file entry);
    registered nowhere: ``MultiProcessCollector`` reads the files."""
    global _metrics
    with _metrics_lock:
        if _metrics is not None:
            return _metrics
        if values.ValueClass is values.MutexValue:
            raise PoolscopeError(
                f"multiprocess mode needs {MULTIPROC_DIR_ENV} set before prometheus_client "
                "is first imported"
            )
        pool = [names.POOL_LABEL]

        def gauge(name: str, *extra: str) -> Gauge:
            return Gauge(
                name, HELP[name], [*pool, *extra], registry=None, multiprocess_mode="livesum"
            )

        def counter(name: str, *extra: str) -> Counter:
            return Counter(name, HELP[name], [*pool, *extra], registry=None)

        def histogram(name: str, *extra: str) -> Histogram:
            return Histogram(
                name, HELP[name], [*pool, *extra], registry=None, buckets=names.DEFAULT_BUCKETS
            )

        _metrics = _Metrics(
            count=gauge(names.CONNECTION_COUNT, names.STATE_LABEL),
            max=gauge(names.CONNECTION_MAX),
            idle_max=gauge(names.CONNECTION_IDLE_MAX),
            pending=gauge(names.CONNECTION_PENDING_REQUESTS),
            overflow=gauge(names.POOL_OVERFLOW),
            leaked=gauge(names.POOL_LEAKED_CONNECTIONS),
            timeouts=counter(names.CONNECTION_TIMEOUTS),
            checkouts=counter(names.POOL_CHECKOUTS),
            connects=counter(names.POOL_CONNECTS),
            invalidations=counter(names.POOL_INVALIDATIONS, names.SOFT_LABEL),
            pools_created=counter(names.POOLS_CREATED),
            leaks=counter(names.POOL_LEAKS),
            gc_reclaimed=counter(names.POOL_GC_RECLAIMED),
            errors=counter(names.INSTRUMENTATION_ERRORS),
            wait=histogram(names.CONNECTION_WAIT_TIME),
            use=histogram(names.CONNECTION_USE_TIME, names.ROUTE_LABEL),
            create=histogram(names.CONNECTION_CREATE_TIME),
        )
        return _metrics


class MultiprocessRecorder:
    """The multiprocess counterpart of ``PoolRecorder``: label children bound once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        metrics = self._metrics = _process_metrics()
        self.idle = metrics.count.labels(name, "idle")
        self.used = metrics.count.labels(name, "used")
        self.overflow = metrics.overflow.labels(name)
        self.pending = metrics.pending.labels(name)
        self.max = metrics.max.labels(name)
        self.idle_max = metrics.idle_max.labels(name)
        self.leaked = metrics.leaked.labels(name)
        self.wait = metrics.wait.labels(name)
        self.checkouts = metrics.checkouts.labels(name)
        self._timeouts = metrics.timeouts.labels(name)
        self._create = metrics.create.labels(name)
        self._connects = metrics.connects.labels(name)
        self._invalidations = {
            soft: metrics.invalidations.labels(name, "true" if soft else "false")
            for soft in (False, True)
        }
        self._errors = metrics.errors.labels(name)
        self._leaks = metrics.leaks.labels(name)
        self._gc_reclaimed = metrics.gc_reclaimed.labels(name)
        self._pools_created = metrics.pools_created.labels(name)
        self._use: dict[str, Any] = {}
        # The pools of this name in this process (by instrumentation); gauges show their sum.
        self.pools: dict[int, Callable[[], QueuePool | None]] = {}

    def use_child(self, route: str) -> Any:
        child = self._use.get(route)
        if child is None:
            child = self._use[route] = self._metrics.use.labels(self.name, route)
        return child

    def refresh(self, pool: QueuePool) -> None:
        """Write the gauges from the pools' own counts."""
        pools = self.pools
        if len(pools) <= 1:
            used, idle, overflow = pool.checkedout(), pool.checkedin(), pool.overflow()
            overflow = overflow if overflow > 0 else 0
        else:
            used = idle = overflow = 0
            for current in list(pools.values()):
                found = current()
                if found is not None:
                    used += found.checkedout()
                    idle += found.checkedin()
                    overflow += max(0, found.overflow())
        self.used.set(used)
        self.idle.set(idle)
        self.overflow.set(overflow)

    def observe_wait(self, waited: float) -> None:
        self.wait.observe(waited)
        self.checkouts.inc()

    def observe_timeout(self, waited: float) -> None:
        self.wait.observe(waited)
        self._timeouts.inc()

    def observe_create(self, seconds: float) -> None:
        self._create.observe(seconds)
        self._connects.inc()

    def count_invalidation(self, *, soft: bool) -> None:
        self._invalidations[soft].inc()

    def count_error(self) -> None:
        self._errors.inc()

    def count_leak(self) -> None:
        self._leaks.inc()

    def count_gc_reclaimed(self) -> None:
        self._gc_reclaimed.inc()

    def attach(self, key: int, current: Callable[[], QueuePool | None]) -> None:
        with self.lock:
            self.pools[key] = current
            self._count_pools_created()
        self._write_all()

    def detach(self, key: int) -> None:
        with self.lock:
            self.pools.pop(key, None)
        self._write_all()

    def _count_pools_created(self) -> None:
        self._pools_created.inc()

    def _write_all(self) -> None:
        pools = [pool for pool in (current() for current in list(self.pools.values())) if pool]
        unlimited = any(pool._max_overflow < 0 for pool in pools)
        limit = sum(pool.size() + pool._max_overflow for pool in pools)
        self.max.set(float("inf") if unlimited else limit)
        self.idle_max.set(sum(pool.size() for pool in pools))
        self.used.set(sum(pool.checkedout() for pool in pools))
        self.idle.set(sum(pool.checkedin() for pool in pools))
        self.overflow.set(sum(max(0, pool.overflow()) for pool in pools))
        if not pools:
            self.pending.set(0)
            self.leaked.set(0)


_recorders: dict[str, MultiprocessRecorder] = {}
_recorders_lock = threading.Lock()


def recorder_for(name: str) -> MultiprocessRecorder:
    """This process's recorder of pool ``name`` (metric objects are per process)."""
    with _recorders_lock:
        recorder = _recorders.get(name)
        if recorder is None:
            recorder = _recorders[name] = MultiprocessRecorder(name)
        return recorder
