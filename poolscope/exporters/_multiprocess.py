"""The multiprocess recorder: each pool name's measurements written to prometheus_client's
per-process files (``PROMETHEUS_MULTIPROC_DIR``), which ``MultiProcessCollector`` sums at
scrape time, through one metric object per metric and process.

Every value written there takes a lock and a file write, far more than a checkout may
spend, so the checkout path does here what it does in single-process mode: it appends
durations to lists. The flush thread (``_flush``) folds them into the files every
``FLUSH_SECONDS`` (and so does a checkin past ``DRAIN_AT`` values, ``close()`` and the
interpreter's exit), and writes the gauges from the pools' state (``read_pool_state``,
as the registry exporter reads them), in ``livesum``
mode: the sum over live processes. The trade-off: the files lag the process by up to
``FLUSH_SECONDS``; the pending gauge is written at once (a caller starts or stops
waiting), with the other gauges as a wait begins. Counters and histograms stay in the
files after ``close()``: prometheus_client cannot forget a series in this mode; gauges go
to 0.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from poolscope import metrics as names
from poolscope._errors import PoolscopeError
from poolscope._histogram import Buckets, pop_all
from poolscope._holds import split_holds
from poolscope._recorder import LivePool, RawDurations
from poolscope.exporters._flush import start_flushing, write_at_each_flush
from poolscope.exporters._prometheus_internals import add_to_histogram, values_live_in_files
from poolscope.exporters._table import MAXIMA, buckets_of, labels_of

__all__ = [
    "MULTIPROC_DIR_ENV",
    "MultiprocessRecorder",
    "multiprocess_enabled",
    "recorder_for",
    "require_multiprocess_values",
    "write_at_each_flush",
]

# prometheus_client's own variable: set, it switches the whole process to multiprocess mode.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR_ENV))


def require_multiprocess_values() -> None:
    """Raise :class:`PoolscopeError` unless prometheus_client writes values to files."""
    if not values_live_in_files():
        raise PoolscopeError(
            f"multiprocess mode needs {MULTIPROC_DIR_ENV} set before prometheus_client "
            "is first imported"
        )


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
    wait_fine: Histogram
    use_fine: Histogram
    wait_max: Gauge
    use_max: Gauge
    statement_time: Counter
    statements: Counter
    idle_fine: Histogram
    idle_time_max: Gauge


_metrics: _Metrics | None = None
_metrics_lock = threading.Lock()


def _process_metrics() -> _Metrics:
    """One object per metric and process (two would overwrite each other's file entry);
    registered nowhere: ``MultiProcessCollector`` reads the files."""
    global _metrics
    with _metrics_lock:
        if _metrics is not None:
            return _metrics
        require_multiprocess_values()

        def gauge(name: str) -> Gauge:
            # Summed over live processes; a maximum is the largest any process wrote.
            return Gauge(
                name,
                names.HELP[name],
                labels_of(name),
                registry=None,
                multiprocess_mode="max" if name in MAXIMA else "livesum",
            )

        def counter(name: str) -> Counter:
            return Counter(name, names.HELP[name], labels_of(name), registry=None)

        def histogram(name: str) -> Histogram:
            return Histogram(
                name, names.HELP[name], labels_of(name), registry=None, buckets=buckets_of(name)
            )

        _metrics = _Metrics(
            count=gauge(names.CONNECTION_COUNT),
            max=gauge(names.CONNECTION_MAX),
            idle_max=gauge(names.CONNECTION_IDLE_MAX),
            pending=gauge(names.CONNECTION_PENDING_REQUESTS),
            overflow=gauge(names.POOL_OVERFLOW),
            leaked=gauge(names.POOL_LEAKED_CONNECTIONS),
            timeouts=counter(names.CONNECTION_TIMEOUTS),
            checkouts=counter(names.POOL_CHECKOUTS),
            connects=counter(names.POOL_CONNECTS),
            invalidations=counter(names.POOL_INVALIDATIONS),
            pools_created=counter(names.POOLS_CREATED),
            leaks=counter(names.POOL_LEAKS),
            gc_reclaimed=counter(names.POOL_GC_RECLAIMED),
            errors=counter(names.INSTRUMENTATION_ERRORS),
            wait=histogram(names.CONNECTION_WAIT_TIME),
            use=histogram(names.CONNECTION_USE_TIME),
            create=histogram(names.CONNECTION_CREATE_TIME),
            wait_fine=histogram(names.POOL_WAIT_TIME),
            use_fine=histogram(names.POOL_USE_TIME),
            wait_max=gauge(names.POOL_WAIT_TIME_MAX),
            use_max=gauge(names.POOL_USE_TIME_MAX),
            statement_time=counter(names.POOL_STATEMENT_TIME),
            statements=counter(names.POOL_STATEMENTS),
            idle_fine=histogram(names.POOL_IDLE_TIME),
            idle_time_max=gauge(names.POOL_IDLE_TIME_MAX),
        )
        return _metrics


class MultiprocessRecorder(RawDurations):
    """The multiprocess ``Recorder`` of one pool name in this process: label children
    bound once."""

    def __init__(self, name: str) -> None:
        super().__init__()
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
        self._wait_fine = metrics.wait_fine.labels(name)
        self._use_fine = metrics.use_fine.labels(name)
        # This process's largest wait and use by route, written when a fold passes them.
        self._wait_max = _Maximum(metrics.wait_max.labels(name))
        self._use_max: dict[str, _Maximum] = {}
        self._idle_fine = metrics.idle_fine.labels(name)
        self._idle_max: dict[str, _Maximum] = {}
        self._statement_time: dict[str, Any] = {}
        self._statements: dict[str, Any] = {}
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
        # The engines of this name in this process, by id(); gauges show their sum.
        self.pools: dict[int, LivePool] = {}
        # Serialises folding into the files (the flusher, a checkin past DRAIN_AT, close()).
        self._flush_lock = threading.Lock()

    def drain(self) -> None:
        """Fold the raw durations into the files: a few writes per bucket, not per value."""
        with self._flush_lock:
            self.pull()
            waits = pop_all(self.waits)
            if waits:
                self._add_waits(waits)
                self.checkouts.inc(len(waits))
            every_route = Buckets()
            idle_every_route = Buckets()
            for route, values in list(self.uses.items()):
                if values:
                    split = split_holds(pop_all(values))
                    buckets = _buckets_of(split.held)
                    add_to_histogram(self._use_child(route), buckets.coarse_counts(), buckets.sum)
                    self._use_maximum(route).observe(buckets)
                    every_route.merge(buckets)
                    idle = _buckets_of(split.idle)
                    self._maximum(self._idle_max, self._metrics.idle_time_max, route).observe(idle)
                    idle_every_route.merge(idle)
                    self._route_child(
                        self._statement_time, self._metrics.statement_time, route
                    ).inc(split.statement_seconds)
                    self._route_child(self._statements, self._metrics.statements, route).inc(
                        split.statements
                    )
            if every_route.max is not None:
                add_to_histogram(self._use_fine, every_route.counts, every_route.sum)
                add_to_histogram(self._idle_fine, idle_every_route.counts, idle_every_route.sum)

    def _add_waits(self, waits: list[float]) -> None:
        buckets = _buckets_of(waits)
        add_to_histogram(self.wait, buckets.coarse_counts(), buckets.sum)
        add_to_histogram(self._wait_fine, buckets.counts, buckets.sum)
        self._wait_max.observe(buckets)

    def _use_maximum(self, route: str) -> _Maximum:
        return self._maximum(self._use_max, self._metrics.use_max, route)

    def _maximum(self, maxima: dict[str, _Maximum], gauge: Gauge, route: str) -> _Maximum:
        maximum = maxima.get(route)
        if maximum is None:
            maximum = maxima[route] = _Maximum(gauge.labels(self.name, route))
        return maximum

    def _route_child(self, children: dict[str, Any], metric: Counter, route: str) -> Any:
        child = children.get(route)
        if child is None:
            child = children[route] = metric.labels(self.name, route)
        return child

    def flush(self) -> None:
        """Everything measured so far into the files: durations and gauges."""
        self.drain()
        self.write_gauges()

    def _use_child(self, route: str) -> Any:
        child = self._use.get(route)
        if child is None:
            child = self._use[route] = self._metrics.use.labels(self.name, route)
        return child

    def waiting(self, *, started: bool) -> None:
        if started:
            # In the files at once: callers waiting are what the gauges are read for.
            self.pending.inc()
            self.write_gauges()
        else:
            self.pending.dec()

    def observe_timeout(self, waited: float) -> None:
        with self._flush_lock:
            self._add_waits([waited])
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

    def write_leaked(self, count: int) -> None:
        self.leaked.set(count)

    def attach(self, live_pool: LivePool) -> None:
        with self.lock:
            self.pools[id(live_pool)] = live_pool
            self._pools_created.inc()
        self.write_gauges()
        start_flushing()

    def detach(self, live_pool: LivePool) -> None:
        with self.lock:
            self.pools.pop(id(live_pool), None)
        self.flush()

    def write_gauges(self) -> None:
        """Write the gauges from the pools' state; pending is counted as callers come
        and go (``waiting()``), exact between flushes."""
        states = [live_pool.state() for live_pool in list(self.pools.values())]
        maxima = [state.max for state in states]
        self.max.set(float("inf") if None in maxima else sum(m for m in maxima if m is not None))
        self.idle_max.set(sum(state.size for state in states))
        self.used.set(sum(state.used for state in states))
        self.idle.set(sum(state.idle for state in states))
        self.overflow.set(sum(state.overflow for state in states))
        if not states:
            self.pending.set(0)
            self.leaked.set(0)


def _buckets_of(values: list[float]) -> Buckets:
    buckets = Buckets()
    buckets.add_all(values)
    return buckets


class _Maximum:
    """A max gauge child and the largest value this process has written to it."""

    __slots__ = ("gauge", "largest")

    def __init__(self, gauge: Any) -> None:
        self.gauge = gauge
        self.largest: float | None = None

    def observe(self, buckets: Buckets) -> None:
        if buckets.max is not None and (self.largest is None or buckets.max > self.largest):
            self.largest = buckets.max
            self.gauge.set(buckets.max)


_recorders: dict[str, MultiprocessRecorder] = {}
_recorders_lock = threading.Lock()


def _forget_lock() -> None:
    # A forked child has the parent's recorders but not its threads (nor their locks).
    global _recorders_lock
    _recorders_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_lock)


def recorder_for(name: str) -> MultiprocessRecorder:
    """This process's recorder of pool ``name`` (metric objects are per process)."""
    with _recorders_lock:
        recorder = _recorders.get(name)
        if recorder is None:
            recorder = _recorders[name] = MultiprocessRecorder(name)
            write_at_each_flush(recorder.flush, what=f"pool {name!r}'s measurements")
        return recorder
