"""One Prometheus collector per registry, exporting every instrumented pool name.

Gauges are read from the pools at scrape time, so they never drift: SQLAlchemy fires
checkin before the connection is back in the queue, and never fires it for an async
connection lost to the garbage collector. A pool name's series exist while at least one
engine carries it; its counters live on in memory and continue if the name comes back.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from poolscope import metrics as names
from poolscope._histogram import Buckets
from poolscope._pool_state import PoolState
from poolscope._recorder import PoolRecorder, RecorderSnapshot

__all__ = ["RegistryExporter", "exporter_for"]

HELP = {
    names.CONNECTION_COUNT: "Connections idle in the pool or checked out (used), read at scrape",
    names.CONNECTION_MAX: "The most connections the pool opens: pool_size + max_overflow",
    names.CONNECTION_IDLE_MAX: "The most idle connections the pool keeps: pool_size",
    names.CONNECTION_PENDING_REQUESTS: "Callers waiting for a connection now",
    names.CONNECTION_TIMEOUTS: "Checkouts that gave up waiting (sqlalchemy.exc.TimeoutError)",
    names.CONNECTION_WAIT_TIME: "Seconds from asking the pool for a connection to getting one",
    names.CONNECTION_USE_TIME: "Seconds from checkout to checkin",
    names.CONNECTION_CREATE_TIME: "Seconds to open one new DBAPI connection",
    names.POOL_OVERFLOW: "Connections open beyond pool_size now",
    names.POOL_CHECKOUTS: "Connections checked out of the pool",
    names.POOL_CONNECTS: "New DBAPI connections opened",
    names.POOL_INVALIDATIONS: "Connections invalidated (soft: marked for recycling only)",
    names.POOLS_CREATED: "Pools instrumented under this name (rising = an engine per request)",
    names.POOL_LEAKED_CONNECTIONS: "Connections checked out longer than the leak threshold now",
    names.POOL_LEAKS: "Checkouts that exceeded the leak threshold",
    names.POOL_GC_RECLAIMED: "Connections returned by the garbage collector, never closed",
    names.INSTRUMENTATION_ERRORS: "Exceptions inside poolscope's instrumentation (never raised)",
    names.POOL_WAIT_TIME: "Seconds waited for a connection, in buckets at most 19 % wide",
    names.POOL_USE_TIME: "Seconds from checkout to checkin, in buckets at most 19 % wide",
    names.POOL_WAIT_TIME_MAX: "The longest wait for a connection so far, exactly",
    names.POOL_USE_TIME_MAX: "The longest a connection was held so far, exactly",
}


class LivePool(Protocol):
    """An instrumented engine as the exporter reads it at scrape time."""

    def state(self) -> PoolState: ...

    def leaked_connections(self) -> int: ...


class RegistryExporter(Collector):
    """Registered in its registry while at least one engine is instrumented there."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._recorders: dict[str, PoolRecorder] = {}
        # The instrumented engines of each name, by id().
        self._live: dict[str, dict[int, LivePool]] = {}
        self._registered = False

    def recorder(self, name: str) -> PoolRecorder:
        with self._lock:
            recorder = self._recorders.get(name)
            if recorder is None:
                recorder = self._recorders[name] = PoolRecorder(name)
            return recorder

    def attach(self, name: str, live_pool: LivePool) -> None:
        with self._lock:
            self._live.setdefault(name, {})[id(live_pool)] = live_pool
            if not self._registered:
                self._registry.register(self)
                self._registered = True

    def detach(self, name: str, live_pool: LivePool) -> None:
        with self._lock:
            live = self._live.get(name, {})
            live.pop(id(live_pool), None)
            if not live:
                self._live.pop(name, None)
            if self._registered and not self._live:
                self._registry.unregister(self)
                self._registered = False

    def describe(self) -> Iterable[Metric]:
        # Declares every name up front so the registry rejects a clashing metric.
        return list(_families().values())

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            live = {name: list(pools.values()) for name, pools in self._live.items()}
            recorders = {name: self._recorders[name] for name in live}
        families = _families()
        for name, pools in sorted(live.items()):
            states = [pool.state() for pool in pools]
            leaked = sum(pool.leaked_connections() for pool in pools)
            _add_pool(families, name, states, leaked, recorders[name].snapshot())
        return list(families.values())


def _families() -> dict[str, Metric]:
    pool = [names.POOL_LABEL]
    families: dict[str, Metric] = {}
    for name in names.GAUGES:
        labels = [*pool, names.STATE_LABEL] if name == names.CONNECTION_COUNT else pool
        if name == names.POOL_USE_TIME_MAX:
            labels = [*pool, names.ROUTE_LABEL]
        families[name] = GaugeMetricFamily(name, HELP[name], labels=labels)
    for name in names.COUNTERS:
        labels = [*pool, names.SOFT_LABEL] if name == names.POOL_INVALIDATIONS else pool
        families[name] = CounterMetricFamily(name, HELP[name], labels=labels)
    for name in names.HISTOGRAMS:
        labels = [*pool, names.ROUTE_LABEL] if name == names.CONNECTION_USE_TIME else pool
        families[name] = HistogramMetricFamily(name, HELP[name], labels=labels)
    return families


def _add_pool(
    families: dict[str, Metric],
    pool: str,
    states: list[PoolState],
    leaked: int,
    snapshot: RecorderSnapshot,
) -> None:
    def add(name: str, value: float, *extra: str) -> None:
        family: GaugeMetricFamily | CounterMetricFamily = families[name]  # type: ignore[assignment]
        family.add_metric([pool, *extra], value)

    def add_histogram(name: str, buckets: Buckets, *extra: str) -> None:
        family: HistogramMetricFamily = families[name]  # type: ignore[assignment]
        cumulative = buckets.fine_cumulative() if name in names.FINE_HISTOGRAMS else None
        family.add_metric([pool, *extra], cumulative or buckets.cumulative(), buckets.sum)

    add(names.CONNECTION_COUNT, sum(state.idle for state in states), "idle")
    add(names.CONNECTION_COUNT, sum(state.used for state in states), "used")
    maxima = [state.max for state in states]
    if None not in maxima:  # an unlimited pool has no maximum to show
        add(names.CONNECTION_MAX, sum(m for m in maxima if m is not None))
    add(names.CONNECTION_IDLE_MAX, sum(state.size for state in states))
    add(names.CONNECTION_PENDING_REQUESTS, sum(state.pending for state in states))
    add(names.POOL_OVERFLOW, sum(state.overflow for state in states))
    add(names.POOL_LEAKED_CONNECTIONS, leaked)

    add(names.CONNECTION_TIMEOUTS, snapshot.timeouts)
    add(names.POOL_CHECKOUTS, snapshot.checkouts)
    add(names.POOL_CONNECTS, snapshot.create.count)
    for soft, count in sorted(snapshot.invalidations.items()):
        add(names.POOL_INVALIDATIONS, count, "true" if soft else "false")
    add(names.POOLS_CREATED, snapshot.pools_created)
    add(names.POOL_LEAKS, snapshot.leaks)
    add(names.POOL_GC_RECLAIMED, snapshot.gc_reclaimed)
    add(names.INSTRUMENTATION_ERRORS, snapshot.errors)

    add_histogram(names.CONNECTION_WAIT_TIME, snapshot.wait)
    add_histogram(names.POOL_WAIT_TIME, snapshot.wait)
    if snapshot.wait.max is not None:
        add(names.POOL_WAIT_TIME_MAX, snapshot.wait.max)
    every_route = Buckets()
    for route, buckets in sorted(snapshot.use.items()):
        add_histogram(names.CONNECTION_USE_TIME, buckets, route)
        if buckets.max is not None:
            add(names.POOL_USE_TIME_MAX, buckets.max, route)
        every_route.merge(buckets)
    # Per pool only: the fine buckets are many, and poolscope's readers sum the routes.
    add_histogram(names.POOL_USE_TIME, every_route)
    add_histogram(names.CONNECTION_CREATE_TIME, snapshot.create)


_exporters: weakref.WeakKeyDictionary[CollectorRegistry, RegistryExporter] = (
    weakref.WeakKeyDictionary()
)
_exporters_lock = threading.Lock()


def exporter_for(registry: CollectorRegistry) -> RegistryExporter:
    """The registry's exporter, kept for the registry's lifetime so counters continue."""
    with _exporters_lock:
        exporter = _exporters.get(registry)
        if exporter is None:
            exporter = _exporters[registry] = RegistryExporter(registry)
        return exporter
