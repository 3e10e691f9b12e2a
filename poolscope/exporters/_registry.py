"""The registry exporter: one Prometheus collector per registry, exporting every
instrumented pool name, and the ``PoolRecorder`` that keeps each name's measurements.

Gauges are read from the pools at scrape time, so they never drift: SQLAlchemy fires
checkin before the connection is back in the queue, and never fires it for an async
connection lost to the garbage collector. A pool name's series exist while at least one
engine carries it; its counters live on in memory and continue if the name comes back.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from poolscope import metrics as names
from poolscope._histogram import Buckets, pop_all
from poolscope._holds import split_holds
from poolscope._pool_state import PoolState
from poolscope._recorder import LivePool, RawDurations
from poolscope.exporters._table import labels_of

__all__ = ["PoolRecorder", "RecorderSnapshot", "RegistryExporter", "exporter_for"]


@dataclass(frozen=True, kw_only=True)
class RecorderSnapshot:
    """The measured series of one pool name at one moment (gauges excepted)."""

    wait: Buckets
    use: dict[str, Buckets]
    create: Buckets
    checkouts: int
    timeouts: int
    invalidations: dict[bool, int]
    pools_created: int
    errors: int
    leaks: int = 0
    gc_reclaimed: int = 0
    # By route: seconds in statements, statements, and each hold's seconds held idle.
    statement_seconds: dict[str, float] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)
    idle: dict[str, Buckets] = field(default_factory=dict)


class PoolRecorder(RawDurations):
    """Every measurement for one pool name in one registry, shared by the engines that
    carry that name, so counters keep counting when an engine is replaced. Durations are
    folded into buckets at scrape time; gauges are read from the pools then too."""

    def __init__(self, name: str, exporter: RegistryExporter) -> None:
        super().__init__()
        self.name = name
        self.lock = threading.Lock()
        self._exporter = exporter
        self._wait = Buckets()
        self._use: dict[str, Buckets] = {}
        self._idle: dict[str, Buckets] = {}
        self._statement_seconds: dict[str, float] = {}
        self._statements: dict[str, int] = {}
        self._checkouts = 0
        self._create = Buckets()
        self._timeouts = 0
        self._invalidations = {False: 0, True: 0}
        self._errors = 0
        self._leaks = 0
        self._gc_reclaimed = 0
        self._pools_created = 0

    def drain(self) -> None:
        with self.lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        self.pull()
        waits = pop_all(self.waits)
        self._checkouts += len(waits)
        self._wait.add_all(waits)
        for route, values in list(self.uses.items()):
            if values:
                split = split_holds(pop_all(values))
                self._use.setdefault(route, Buckets()).add_all(split.held)
                self._idle.setdefault(route, Buckets()).add_all(split.idle)
                self._statement_seconds[route] = (
                    self._statement_seconds.get(route, 0.0) + split.statement_seconds
                )
                self._statements[route] = self._statements.get(route, 0) + split.statements

    def waiting(self, *, started: bool) -> None:
        # The pending gauge is read from the pools at scrape time.
        pass

    def observe_timeout(self, waited: float) -> None:
        with self.lock:
            self._wait.add(waited)
            self._timeouts += 1

    def observe_create(self, seconds: float) -> None:
        with self.lock:
            self._create.add(seconds)

    def count_invalidation(self, *, soft: bool) -> None:
        with self.lock:
            self._invalidations[soft] += 1

    def count_error(self) -> None:
        with self.lock:
            self._errors += 1

    def count_leak(self) -> None:
        with self.lock:
            self._leaks += 1

    def count_gc_reclaimed(self) -> None:
        with self.lock:
            self._gc_reclaimed += 1

    def write_leaked(self, count: int) -> None:
        # The leaked gauge is read from the pools at scrape time.
        pass

    def attach(self, live_pool: LivePool) -> None:
        with self.lock:
            self._pools_created += 1
        self._exporter.attach(self.name, live_pool)

    def detach(self, live_pool: LivePool) -> None:
        self._exporter.detach(self.name, live_pool)

    def snapshot(self) -> RecorderSnapshot:
        with self.lock:
            self._drain_locked()
            return RecorderSnapshot(
                wait=self._wait.copy(),
                use={route: buckets.copy() for route, buckets in self._use.items()},
                create=self._create.copy(),
                checkouts=self._checkouts,
                timeouts=self._timeouts,
                invalidations=dict(self._invalidations),
                pools_created=self._pools_created,
                errors=self._errors,
                leaks=self._leaks,
                gc_reclaimed=self._gc_reclaimed,
                statement_seconds=dict(self._statement_seconds),
                statements=dict(self._statements),
                idle={route: buckets.copy() for route, buckets in self._idle.items()},
            )


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
                recorder = self._recorders[name] = PoolRecorder(name, self)
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
    families: dict[str, Metric] = {}
    for name in names.GAUGES:
        families[name] = GaugeMetricFamily(name, names.HELP[name], labels=labels_of(name))
    for name in names.COUNTERS:
        families[name] = CounterMetricFamily(name, names.HELP[name], labels=labels_of(name))
    for name in names.HISTOGRAMS:
        families[name] = HistogramMetricFamily(name, names.HELP[name], labels=labels_of(name))
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
    for route, seconds in sorted(snapshot.statement_seconds.items()):
        add(names.POOL_STATEMENT_TIME, seconds, route)
        add(names.POOL_STATEMENTS, snapshot.statements.get(route, 0), route)
    idle_every_route = Buckets()
    for route, buckets in sorted(snapshot.idle.items()):
        if buckets.max is not None:
            add(names.POOL_IDLE_TIME_MAX, buckets.max, route)
        idle_every_route.merge(buckets)
    add_histogram(names.POOL_IDLE_TIME, idle_every_route)
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
