"""The OpenTelemetry exporter: one meter per ``MeterProvider``, its instruments, and the
``OtelRecorder`` of each pool name (``instrument(engine, meter_provider=...)``).

The same measurements as the Prometheus exporters, through the OpenTelemetry metrics API:
the ``db.client.connection.*`` instruments of the database semantic conventions and
poolscope's own under ``poolscope.pool.`` (``poolscope.metrics.OTEL_NAMES``). The gauges
are observable instruments read from the pools at collection, as a scrape reads them.
The hot path is the one every exporter shares (durations appended to lists); a collection
(or a checkin past ``DRAIN_AT``) records them into the histograms, one ``record()`` each:
the metrics API takes no pre-bucketed values. Histograms carry poolscope's default
buckets as their advice, so both paths show the same shape.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from importlib import metadata

from poolscope import metrics as names
from poolscope._errors import PoolscopeError
from poolscope._histogram import pop_all
from poolscope._holds import split_holds
from poolscope._pool_state import PoolState
from poolscope._recorder import LivePool, RawDurations

try:
    from opentelemetry.context import Context
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
    from opentelemetry.trace import INVALID_SPAN, set_span_in_context
    from opentelemetry.util.types import Attributes
except ImportError as error:  # tests/core/test_library_install.py: a venv without it
    raise PoolscopeError(
        "instrument(meter_provider=...) records through OpenTelemetry, which is not "
        "installed: pip install 'poolscope[otel]'"
    ) from error

__all__ = ["OtelExporter", "OtelRecorder", "exporter_for"]

logger = logging.getLogger("poolscope.instrument")

_POOL = names.OTEL_POOL_NAME_ATTRIBUTE
# The context folded durations are recorded in. They are recorded after the fact, in
# whichever thread folds them (a collection, or some other request's checkin): the span
# current there is not theirs, and must not become their exemplar.
_AFTER_THE_FACT = set_span_in_context(INVALID_SPAN, Context())


def _version() -> str | None:
    """poolscope's version, for the meter's instrumentation scope (None if not installed)."""
    try:
        return metadata.version("poolscope")
    except metadata.PackageNotFoundError:
        return None


class _Instruments:
    """The meter's synchronous instruments; the observable ones live in the meter only."""

    def __init__(self, exporter: OtelExporter, meter_provider: MeterProvider) -> None:
        meter = meter_provider.get_meter(names.OTEL_METER, _version())

        def described(metric: str) -> dict[str, str]:
            return {
                "name": names.OTEL_NAMES[metric],
                "unit": names.OTEL_UNITS[metric],
                "description": names.HELP[metric],
            }

        def counter(metric: str) -> Callable[..., None]:
            return meter.create_counter(**described(metric)).add

        def histogram(metric: str) -> Callable[..., None]:
            return meter.create_histogram(
                **described(metric), explicit_bucket_boundaries_advisory=names.DEFAULT_BUCKETS
            ).record

        self.wait_time = histogram(names.CONNECTION_WAIT_TIME)
        self.use_time = histogram(names.CONNECTION_USE_TIME)
        self.create_time = histogram(names.CONNECTION_CREATE_TIME)
        self.timeouts = counter(names.CONNECTION_TIMEOUTS)
        self.checkouts = counter(names.POOL_CHECKOUTS)
        self.connects = counter(names.POOL_CONNECTS)
        self.invalidations = counter(names.POOL_INVALIDATIONS)
        self.pools_created = counter(names.POOLS_CREATED)
        self.leaks = counter(names.POOL_LEAKS)
        self.gc_reclaimed = counter(names.POOL_GC_RECLAIMED)
        self.errors = counter(names.INSTRUMENTATION_ERRORS)
        self.statement_time = counter(names.POOL_STATEMENT_TIME)
        self.statements = counter(names.POOL_STATEMENTS)
        for metric in (
            names.CONNECTION_COUNT,
            names.CONNECTION_MAX,
            names.CONNECTION_IDLE_MAX,
            names.CONNECTION_PENDING_REQUESTS,
            names.POOL_OVERFLOW,
            names.POOL_LEAKED_CONNECTIONS,
        ):
            meter.create_observable_up_down_counter(
                **described(metric), callbacks=[exporter.callback_for(metric)]
            )


class OtelRecorder(RawDurations):
    """Every measurement of one pool name in one ``MeterProvider``, shared by the engines
    that carry that name (the provider's aggregation keeps counting across them)."""

    def __init__(self, name: str, exporter: OtelExporter) -> None:
        super().__init__()
        self.name = name
        self._exporter = exporter
        self._instruments = exporter.instruments
        self.attributes: Attributes = {_POOL: name}
        self._route_attributes: dict[str, Attributes] = {}
        # One fold at a time: pop_all() is two list operations.
        self._lock = threading.Lock()
        # Counters start at 0, as in Prometheus: no timeout yet is a measured 0, and a
        # rate needs the series before its first event.
        instruments = self._instruments
        for count in (
            instruments.timeouts,
            instruments.checkouts,
            instruments.connects,
            instruments.leaks,
            instruments.gc_reclaimed,
            instruments.errors,
        ):
            count(0, self.attributes)
        for soft in (False, True):
            instruments.invalidations(0, self._invalidation_attributes(soft))

    def _invalidation_attributes(self, soft: bool) -> Attributes:
        return {_POOL: self.name, names.OTEL_SOFT_ATTRIBUTE: soft}

    def drain(self) -> None:
        with self._lock:
            self.pull()
            waits = pop_all(self.waits)
            if waits:
                record = self._instruments.wait_time
                for wait in waits:
                    record(wait, self.attributes, _AFTER_THE_FACT)
                self._instruments.checkouts(len(waits), self.attributes)
            for route, values in list(self.uses.items()):
                if values:
                    record = self._instruments.use_time
                    attributes = self._attributes_of(route)
                    split = split_holds(pop_all(values))
                    for use in split.held:
                        record(use, attributes, _AFTER_THE_FACT)
                    # Held-idle times are Prometheus' fine histogram only, like the maxima.
                    self._instruments.statement_time(split.statement_seconds, attributes)
                    self._instruments.statements(split.statements, attributes)

    def _attributes_of(self, route: str) -> Attributes:
        """The pool name, and ``http.route`` for a checkout made serving a request."""
        attributes = self._route_attributes.get(route)
        if attributes is None:
            attributes = self._route_attributes[route] = (
                {_POOL: self.name, names.OTEL_ROUTE_ATTRIBUTE: route} if route else self.attributes
            )
        return attributes

    def waiting(self, *, started: bool) -> None:
        # pending_requests is read from the pools at collection.
        pass

    def observe_timeout(self, waited: float) -> None:
        self._instruments.wait_time(waited, self.attributes)
        self._instruments.timeouts(1, self.attributes)

    def observe_create(self, seconds: float) -> None:
        self._instruments.create_time(seconds, self.attributes)
        self._instruments.connects(1, self.attributes)

    def count_invalidation(self, *, soft: bool) -> None:
        self._instruments.invalidations(1, self._invalidation_attributes(soft))

    def count_error(self) -> None:
        self._instruments.errors(1, self.attributes)

    def count_leak(self) -> None:
        self._instruments.leaks(1, self.attributes)

    def count_gc_reclaimed(self) -> None:
        self._instruments.gc_reclaimed(1, self.attributes)

    def write_leaked(self, count: int) -> None:
        # leaked_connections is read from the pools at collection.
        pass

    def attach(self, live_pool: LivePool) -> None:
        self._instruments.pools_created(1, self.attributes)
        self._exporter.attach(self.name, live_pool)

    def detach(self, live_pool: LivePool) -> None:
        self.drain()
        self._exporter.detach(self.name, live_pool)


# What each observable instrument reports of one pool name: (value, extra attributes).
_Reading = Callable[[list[PoolState], int], Iterable[tuple[float, dict[str, str]]]]


def _maximum(states: list[PoolState], leaked: int) -> Iterable[tuple[float, dict[str, str]]]:
    maxima = [state.max for state in states]
    if None not in maxima:  # an unlimited pool has no maximum to show
        yield sum(m for m in maxima if m is not None), {}


_READINGS: dict[str, _Reading] = {
    names.CONNECTION_COUNT: lambda states, leaked: [
        (sum(state.idle for state in states), {names.OTEL_STATE_ATTRIBUTE: "idle"}),
        (sum(state.used for state in states), {names.OTEL_STATE_ATTRIBUTE: "used"}),
    ],
    names.CONNECTION_MAX: _maximum,
    names.CONNECTION_IDLE_MAX: lambda states, leaked: [(sum(s.size for s in states), {})],
    names.CONNECTION_PENDING_REQUESTS: lambda states, leaked: [
        (sum(state.pending for state in states), {})
    ],
    names.POOL_OVERFLOW: lambda states, leaked: [(sum(s.overflow for s in states), {})],
    names.POOL_LEAKED_CONNECTIONS: lambda states, leaked: [(leaked, {})],
}


class OtelExporter:
    """The instruments of one ``MeterProvider`` and the engines it reads at collection.
    OpenTelemetry cannot take an instrument back: with no engine left they report
    nothing."""

    def __init__(self, meter_provider: MeterProvider) -> None:
        self._lock = threading.Lock()
        self._recorders: dict[str, OtelRecorder] = {}
        # The instrumented engines of each name, by id().
        self._live: dict[str, dict[int, LivePool]] = {}
        self._failed = False
        self.instruments = _Instruments(self, meter_provider)

    def recorder(self, name: str) -> OtelRecorder:
        with self._lock:
            recorder = self._recorders.get(name)
            if recorder is None:
                recorder = self._recorders[name] = OtelRecorder(name, self)
            return recorder

    def attach(self, name: str, live_pool: LivePool) -> None:
        with self._lock:
            self._live.setdefault(name, {})[id(live_pool)] = live_pool

    def detach(self, name: str, live_pool: LivePool) -> None:
        with self._lock:
            live = self._live.get(name, {})
            live.pop(id(live_pool), None)
            if not live:
                self._live.pop(name, None)

    def callback_for(self, metric: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        reading = _READINGS[metric]

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            # Each callback also folds the durations, so the histograms of this collection
            # hold every checkout made before it (the SDK runs callbacks first).
            try:
                observations = []
                for name, pools in self._live_pools():
                    self._recorders[name].drain()
                    states = [pool.state() for pool in pools]
                    leaked = sum(pool.leaked_connections() for pool in pools)
                    for value, extra in reading(states, leaked):
                        observations.append(Observation(value, {_POOL: name, **extra}))
            except Exception:  # the application must never pay for a poolscope bug
                self._log_failure()
                return []
            return observations

        return observe

    def _live_pools(self) -> list[tuple[str, list[LivePool]]]:
        with self._lock:
            return sorted((name, list(pools.values())) for name, pools in self._live.items())

    def _log_failure(self) -> None:
        if not self._failed:
            self._failed = True
            logger.exception(
                "poolscope could not read its pools for OpenTelemetry; the application is "
                "unaffected, measurements may be incomplete (logged once)"
            )


_exporters: weakref.WeakKeyDictionary[MeterProvider, OtelExporter] = weakref.WeakKeyDictionary()
_exporters_lock = threading.Lock()


def exporter_for(meter_provider: MeterProvider) -> OtelExporter:
    """The provider's exporter, kept for the provider's lifetime: its instruments are
    created once, and counters continue when an engine of the same name comes back."""
    with _exporters_lock:
        exporter = _exporters.get(meter_provider)
        if exporter is None:
            exporter = _exporters[meter_provider] = OtelExporter(meter_provider)
        return exporter
