"""Reading a target's ``/metrics``: the pool's state at one instant, summed over its pools.

Used by ``poolscope run`` to sample a service and by the Locust plugin's Pool tab. Series
are summed over every ``route`` label and, unless one ``pool`` is asked for, over every
``pool`` label, so a service with several engines, or one that builds an engine per
request, reads as one pool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from poolscope import metrics as _names
from poolscope.loadtest._runfile import Histogram, TimingSummary, count_above

__all__ = ["HistogramCounts", "PoolSettings", "PoolSnapshot", "parse_metrics", "pool_settings"]


@dataclass(frozen=True, kw_only=True)
class HistogramCounts:
    """Cumulative bucket counts as Prometheus exposes them, ``+Inf`` last."""

    upper_bounds: tuple[float, ...] = ()
    cumulative: tuple[float, ...] = ()
    sum: float = 0.0

    @property
    def count(self) -> int:
        return round(self.cumulative[-1]) if self.cumulative else 0

    def minus(self, earlier: HistogramCounts) -> HistogramCounts:
        """The observations made since ``earlier`` (same buckets, or none yet)."""
        if not earlier.cumulative or earlier.upper_bounds != self.upper_bounds:
            return self
        return HistogramCounts(
            upper_bounds=self.upper_bounds,
            cumulative=tuple(
                max(0.0, now - before)
                for now, before in zip(self.cumulative, earlier.cumulative, strict=True)
            ),
            sum=max(0.0, self.sum - earlier.sum),
        )

    def quantile(self, q: float) -> float | None:
        """Estimated as Prometheus' ``histogram_quantile`` does: linear within a bucket,
        the highest finite bound when the rank falls in ``+Inf``."""
        total = self.cumulative[-1] if self.cumulative else 0.0
        if total <= 0:
            return None
        rank = q * total
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in zip(self.upper_bounds, self.cumulative, strict=True):
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower_bound
                in_bucket = cumulative - lower_count
                if in_bucket <= 0:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / in_bucket
            lower_bound, lower_count = bound, cumulative
        return lower_bound

    def count_above(self, threshold: float) -> int:
        """Observations in buckets whose lower bound is at least ``threshold``."""
        return count_above(self.per_bucket(), threshold)

    def highest_bound(self) -> float | None:
        """The upper bound of the highest non-empty bucket (finite: ``+Inf`` reads as the
        highest finite bound)."""
        previous = 0.0
        highest: float | None = None
        for bound, cumulative in zip(self.upper_bounds, self.cumulative, strict=True):
            if cumulative > previous:
                highest = bound
            previous = cumulative
        if highest is not None and math.isinf(highest):
            finite = [bound for bound in self.upper_bounds if not math.isinf(bound)]
            return finite[-1] if finite else None
        return highest

    def summary(self) -> TimingSummary:
        return TimingSummary(
            count=self.count,
            sum=self.sum,
            p50=self.quantile(0.5),
            p95=self.quantile(0.95),
            p99=self.quantile(0.99),
            max=self.highest_bound(),
        )

    def per_bucket(self) -> Histogram:
        counts: list[int] = []
        previous = 0.0
        for cumulative in self.cumulative:
            counts.append(round(cumulative - previous))
            previous = cumulative
        return Histogram(upper_bounds=list(self.upper_bounds), counts=counts, sum=self.sum)


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
    wait: HistogramCounts = HistogramCounts()
    use: HistogramCounts = HistogramCounts()
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
_HISTOGRAMS = {_names.CONNECTION_WAIT_TIME: "wait", _names.CONNECTION_USE_TIME: "use"}
_THREADPOOL = {
    _names.THREADPOOL_BUSY_THREADS: "threads_busy",
    _names.THREADPOOL_LIMIT: "thread_limit",
    _names.THREADPOOL_WAITING: "threads_waiting",
}


def parse_metrics(text: str, *, pool: str | None = None) -> PoolSnapshot:
    """Parse a Prometheus text exposition into one summed :class:`PoolSnapshot`: of the
    pool named ``pool`` only, or of every pool when it is None."""
    values: dict[str, float] = {}
    pools: set[str] = set()
    buckets: dict[str, dict[float, float]] = {key: {} for key in _HISTOGRAMS.values()}
    sums: dict[str, float] = {}
    threadpool: dict[str, int | None] = dict.fromkeys(_THREADPOOL.values())
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
            if name == _names.CONNECTION_COUNT:
                key = {"idle": "idle", "used": "used"}.get(labels.get(_names.STATE_LABEL, ""))
            elif name in _GAUGES:
                key = _GAUGES[name]
            elif name in _COUNTERS:
                key = _COUNTERS[name]
            else:
                key = _histogram_sample(name, labels, value, buckets, sums)
                if key is not None and pool_label is not None:
                    pools.add(pool_label)
                continue
            if key is None:
                continue
            if pool_label is not None:
                pools.add(pool_label)
            values[key] = values.get(key, 0.0) + value
    histograms = {
        key: HistogramCounts(
            upper_bounds=tuple(sorted(by_bound)),
            cumulative=tuple(by_bound[bound] for bound in sorted(by_bound)),
            sum=sums.get(key, 0.0),
        )
        for key, by_bound in buckets.items()
    }

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
        wait=histograms["wait"],
        use=histograms["use"],
        **threadpool,
    )


def _histogram_sample(
    name: str,
    labels: dict[str, str],
    value: float,
    buckets: dict[str, dict[float, float]],
    sums: dict[str, float],
) -> str | None:
    for metric, key in _HISTOGRAMS.items():
        if name == f"{metric}_bucket":
            bound = float(labels["le"])
            buckets[key][bound] = buckets[key].get(bound, 0.0) + value
            return key
        if name == f"{metric}_sum":
            sums[key] = sums.get(key, 0.0) + value
            return key
    return None


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
                sizes[pool] = sizes.get(pool, 0.0) + float(sample.value)
            elif sample.name == _names.CONNECTION_MAX:
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
