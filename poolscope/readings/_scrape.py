"""Reading a target's ``/metrics``: the pool's state at one instant, summed over its pools.

Used by ``poolscope run`` to sample a service and by the Locust plugin's Pool tab. Series
are summed over every ``route`` label and, unless one ``pool`` is asked for, over every
``pool`` label, so a service with several engines, or one that builds an engine per
request, reads as one pool; maxima are the largest.
Wait and use time are read from poolscope's fine histograms and exact maxima where the
target exports them, else from the OpenTelemetry histograms alone. Per route, the hold
time (the use histogram's sum and count) and the time in statements are kept apart: a
route's busy share is the one over the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from poolscope import metrics as _names
from poolscope.readings._percentiles import Histogram

__all__ = ["PoolSettings", "PoolSnapshot", "RouteTotals", "parse_metrics", "pool_settings"]


@dataclass(frozen=True, kw_only=True)
class RouteTotals:
    """One route's holds since the target started: how many, their seconds, and the
    seconds and number of statements run in them (None: the target does not measure
    statements, an older poolscope)."""

    holds: int = 0
    held_seconds: float = 0.0
    statement_seconds: float | None = None
    statements: int | None = None

    def minus(self, earlier: RouteTotals | None) -> RouteTotals:
        """What was added since ``earlier`` (a scrape of the same target)."""
        if earlier is None:
            return self

        def less(now: float | None, before: float | None) -> float | None:
            return None if now is None else max(0.0, now - (before or 0.0))

        statements = less(self.statements, earlier.statements)
        return RouteTotals(
            holds=max(0, self.holds - earlier.holds),
            held_seconds=max(0.0, self.held_seconds - earlier.held_seconds),
            statement_seconds=less(self.statement_seconds, earlier.statement_seconds),
            statements=None if statements is None else round(statements),
        )


@dataclass(frozen=True, kw_only=True)
class PoolSnapshot:
    """Gauges as they are now; counters and histograms cumulative since the target started."""

    pools: tuple[str, ...] = ()
    used: int = 0
    idle: int = 0
    pending: int = 0
    overflow: int = 0
    leaked: int = 0
    max_connections: int = 0
    checkouts: int = 0
    timeouts: int = 0
    connects: int = 0
    pools_created: int = 0
    invalidations: int = 0
    leaks: int = 0
    gc_reclaimed: int = 0
    wait: Histogram = field(default_factory=Histogram)
    use: Histogram = field(default_factory=Histogram)
    # Each hold's seconds outside statements (empty: the target does not measure them).
    idle_time: Histogram = field(default_factory=Histogram)
    routes: dict[str, RouteTotals] = field(default_factory=dict)
    # The thread pool that runs sync routes (None: the target does not export it).
    threads_busy: int | None = None
    thread_limit: int | None = None
    threads_waiting: int | None = None

    @property
    def instrumented(self) -> bool:
        """Whether the target exports any poolscope pool series at all."""
        return bool(self.pools)


_GAUGES = {
    _names.CONNECTION_PENDING_REQUESTS: "pending",
    _names.POOL_OVERFLOW: "overflow",
    _names.POOL_LEAKED_CONNECTIONS: "leaked",
    _names.CONNECTION_MAX: "max_connections",
}
_COUNTERS = {
    f"{_names.POOL_CHECKOUTS}_total": "checkouts",
    f"{_names.CONNECTION_TIMEOUTS}_total": "timeouts",
    f"{_names.POOL_CONNECTS}_total": "connects",
    f"{_names.POOLS_CREATED}_total": "pools_created",
    f"{_names.POOL_INVALIDATIONS}_total": "invalidations",
    f"{_names.POOL_LEAKS}_total": "leaks",
    f"{_names.POOL_GC_RECLAIMED}_total": "gc_reclaimed",
}
# Fine first: the OpenTelemetry histograms are read only from targets without them.
_HISTOGRAMS = {
    _names.POOL_WAIT_TIME: "wait",
    _names.POOL_USE_TIME: "use",
    _names.CONNECTION_WAIT_TIME: "wait",
    _names.CONNECTION_USE_TIME: "use",
    _names.POOL_IDLE_TIME: "idle_time",
}
_MAXIMA = {
    _names.POOL_WAIT_TIME_MAX: "wait",
    _names.POOL_USE_TIME_MAX: "use",
    _names.POOL_IDLE_TIME_MAX: "idle_time",
}
# Per route: the coarse use histogram's sum and count, the statement counters.
_ROUTE_SERIES = {
    f"{_names.CONNECTION_USE_TIME}_sum": "held_seconds",
    f"{_names.CONNECTION_USE_TIME}_count": "holds",
    f"{_names.POOL_STATEMENT_TIME}_total": "statement_seconds",
    f"{_names.POOL_STATEMENTS}_total": "statements",
}
_THREADPOOL = {
    _names.THREADPOOL_BUSY_THREADS: "threads_busy",
    _names.THREADPOOL_LIMIT: "thread_limit",
    _names.THREADPOOL_WAITING: "threads_waiting",
}


@dataclass
class _Series:
    """One histogram's samples summed over its labels: cumulative counts by bound."""

    by_bound: dict[float, float]
    sum: float = 0.0

    def histogram(self, maximum: float | None) -> Histogram:
        bounds = sorted(self.by_bound)
        counts: list[int] = []
        previous = 0.0
        for bound in bounds:
            counts.append(round(self.by_bound[bound] - previous))
            previous = self.by_bound[bound]
        return Histogram(
            upper_bounds=tuple(bounds),
            counts=tuple(counts),
            sum=self.sum,
            max=maximum,
            max_exact=maximum is not None,
        )


def parse_metrics(text: str, *, pool: str | None = None) -> PoolSnapshot:
    """Parse a Prometheus text exposition into one summed :class:`PoolSnapshot`: of the
    pool named ``pool`` only, or of every pool when it is None."""
    values: dict[str, float] = {}
    pools: set[str] = set()
    series: dict[str, _Series] = {name: _Series({}) for name in _HISTOGRAMS}
    maxima: dict[str, float] = {}
    threadpool: dict[str, int | None] = dict.fromkeys(_THREADPOOL.values())
    routes: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name in _THREADPOOL:
                # No pool label: one thread pool per process. An unbounded limiter's
                # limit is +Inf: no figure to show against.
                threadpool[_THREADPOOL[name]] = round(value) if math.isfinite(value) else None
                continue
            if pool is not None and labels.get(_names.POOL_LABEL) != pool:
                continue
            pool_label = labels.get(_names.POOL_LABEL)
            if name in _ROUTE_SERIES:
                _check_finite(name, value)
                route = routes.setdefault(labels.get(_names.ROUTE_LABEL, ""), {})
                series_key = _ROUTE_SERIES[name]
                route[series_key] = route.get(series_key, 0.0) + value
            if name == _names.CONNECTION_COUNT:
                key = {"idle": "idle", "used": "used"}.get(labels.get(_names.STATE_LABEL, ""))
            elif name in _GAUGES:
                key = _GAUGES[name]
            elif name in _COUNTERS:
                key = _COUNTERS[name]
            elif name in _MAXIMA:
                _check_finite(name, value)
                maxima[_MAXIMA[name]] = max(value, maxima.get(_MAXIMA[name], value))
                continue
            else:
                if _histogram_sample(name, labels, value, series) and pool_label is not None:
                    pools.add(pool_label)
                continue
            if key is None:
                continue
            _check_finite(name, value)
            if pool_label is not None:
                pools.add(pool_label)
            values[key] = values.get(key, 0.0) + value
    histograms: dict[str, Histogram] = {}
    for name, key in _HISTOGRAMS.items():
        if key not in histograms and series[name].by_bound:
            fine = name in _names.FINE_HISTOGRAMS
            histograms[key] = series[name].histogram(maxima.get(key) if fine else None)

    def count(key: str) -> int:
        return round(values.get(key, 0.0))

    return PoolSnapshot(
        pools=tuple(sorted(pools)),
        used=count("used"),
        idle=count("idle"),
        pending=count("pending"),
        overflow=count("overflow"),
        leaked=count("leaked"),
        max_connections=count("max_connections"),
        checkouts=count("checkouts"),
        timeouts=count("timeouts"),
        connects=count("connects"),
        pools_created=count("pools_created"),
        invalidations=count("invalidations"),
        leaks=count("leaks"),
        gc_reclaimed=count("gc_reclaimed"),
        wait=histograms.get("wait", Histogram()),
        use=histograms.get("use", Histogram()),
        idle_time=histograms.get("idle_time", Histogram()),
        routes={route: _route_totals(totals) for route, totals in sorted(routes.items())},
        **threadpool,
    )


def _route_totals(totals: dict[str, float]) -> RouteTotals:
    statements = totals.get("statements")
    return RouteTotals(
        holds=round(totals.get("holds", 0.0)),
        held_seconds=totals.get("held_seconds", 0.0),
        statement_seconds=totals.get("statement_seconds"),
        statements=None if statements is None else round(statements),
    )


def _check_finite(name: str, value: float) -> None:
    """A count, gauge or time poolscope reads must be a number of at least 0: +Inf, NaN or
    a negative count is refused, as no pool holds infinitely many connections."""
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} is {value}, not a finite number of at least 0")


def _histogram_sample(
    name: str, labels: dict[str, str], value: float, series: dict[str, _Series]
) -> bool:
    """Adds a ``_bucket`` or ``_sum`` sample of a histogram read here; False for others."""
    for metric, summed in series.items():
        if name == f"{metric}_bucket":
            _check_finite(name, value)
            if "le" not in labels:
                raise ValueError(f"{name} has no le label")
            bound = float(labels["le"])
            summed.by_bound[bound] = summed.by_bound.get(bound, 0.0) + value
            return True
        if name == f"{metric}_sum":
            _check_finite(name, value)
            summed.sum += value
            return True
    return False


@dataclass(frozen=True, kw_only=True)
class PoolSettings:
    """A pool's limits as its target exports them. ``max_overflow`` is None when the pool
    has no limit. In prometheus_client's multiprocess mode the gauges are summed over the
    live processes, and so are these."""

    pool: str
    pool_size: int
    max_overflow: int | None


def pool_settings(text: str) -> dict[str, PoolSettings]:
    """Each exported pool's size (``db_client_connection_idle_max``) and overflow
    (``db_client_connection_max`` minus the size), by pool name."""
    sizes: dict[str, float] = {}
    maxima: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            pool = sample.labels.get(_names.POOL_LABEL)
            if pool is None:
                continue
            if sample.name == _names.CONNECTION_IDLE_MAX:
                _check_finite(sample.name, float(sample.value))
                sizes[pool] = sizes.get(pool, 0.0) + float(sample.value)
            elif sample.name == _names.CONNECTION_MAX:
                if math.isnan(float(sample.value)):  # +Inf is a pool without a limit
                    raise ValueError(f"{sample.name} is NaN, not a number")
                maxima[pool] = maxima.get(pool, 0.0) + float(sample.value)
    settings: dict[str, PoolSettings] = {}
    for pool, size in sorted(sizes.items()):
        maximum = maxima.get(pool)
        limited = maximum is not None and math.isfinite(maximum)
        settings[pool] = PoolSettings(
            pool=pool,
            pool_size=round(size),
            max_overflow=round(maximum - size) if limited and maximum is not None else None,
        )
    return settings
