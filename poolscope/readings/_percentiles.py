"""The reader's histogram: what a scrape of ``/metrics`` holds, what a run file stores, and
how percentiles and the maximum are read from it.

Plain data (a frozen dataclass), so the metrics parser returns no run-file model; the run
file embeds this same class. Percentiles follow one definition throughout poolscope: the
q-quantile of n values is the k-th smallest, k = ceil(q * n) (the nearest rank). It is
read from the bucket (lower, upper] that holds the k-th value, as sqrt(lower * upper),
never above the known maximum; the k = n one is the maximum itself. With poolscope's fine
buckets (``poolscope.metrics.FINE_BUCKETS``, at most 19 % wide) that is within 9.1 % of
the true value. Prometheus' ``histogram_quantile`` interpolates linearly instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

__all__ = ["Histogram", "count_above"]


@dataclass(frozen=True, kw_only=True)
class Histogram:
    """Per-bucket (not cumulative) counts, ``value <= bound``, ``+Inf`` last; the sum; and
    the largest value: exact when ``max_exact``, else read from the buckets, None unknown.

    From a scrape the counts and the maximum run since the target started; ``minus`` turns
    them into what was observed between two scrapes.
    """

    upper_bounds: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    sum: float = 0.0
    max: float | None = None
    max_exact: bool = False

    def __post_init__(self) -> None:
        # Lists given (or read from JSON) become tuples: the class stays hashable and equal.
        object.__setattr__(self, "upper_bounds", tuple(self.upper_bounds))
        object.__setattr__(self, "counts", tuple(self.counts))
        # Read from run files and targets alike: a histogram that cannot be one is refused
        # here, before a percentile is read from it.
        if len(self.counts) != len(self.upper_bounds):
            raise ValueError(
                f"a histogram has {len(self.upper_bounds)} bounds but {len(self.counts)} counts"
            )
        if not all(low < high for low, high in pairwise(self.upper_bounds)):
            raise ValueError("a histogram's bucket bounds must increase")
        if any(count < 0 for count in self.counts):
            raise ValueError("a histogram's bucket counts cannot be negative")

    @property
    def count(self) -> int:
        return sum(self.counts)

    def minus(self, earlier: Histogram) -> Histogram:
        """What was observed since ``earlier`` (a scrape of the same target).

        A maximum since start that rose since ``earlier`` was set in between: exact. One
        that did not may come from before, so the interval's own is read from its buckets
        (never above that maximum).
        """
        if not earlier.counts or earlier.upper_bounds != self.upper_bounds:
            return self
        counts = tuple(
            max(0, now - before) for now, before in zip(self.counts, earlier.counts, strict=True)
        )
        delta = Histogram(
            upper_bounds=self.upper_bounds,
            counts=counts,
            sum=max(0.0, self.sum - earlier.sum),
            max=self.max,
        )
        if not any(counts) or self.max is None:
            return _with_max(delta, None, exact=False)
        if earlier.count == 0 or (earlier.max is not None and self.max > earlier.max):
            return _with_max(delta, self.max, exact=self.max_exact)
        return _with_max(delta, delta._from_buckets(delta.count), exact=False)

    def value_at_rank(self, rank: int) -> float | None:
        """The ``rank``-th smallest value (1-based), read from its bucket; None when empty."""
        total = self.count
        if total <= 0:
            return None
        rank = min(max(rank, 1), total)
        if rank == total and self.max is not None:
            return self.max
        return self._from_buckets(rank)

    def _from_buckets(self, rank: int) -> float | None:
        seen = 0
        lower = 0.0
        for bound, count in zip(self.upper_bounds, self.counts, strict=True):
            seen += count
            if seen >= rank:
                if math.isinf(bound) and self.max is not None:
                    return self.max  # past the last finite bound only the maximum tells
                value = _inside(lower, bound, self.highest_finite())
                return value if self.max is None else min(value, self.max)
            lower = bound
        return self.max

    def bucket_at_rank(self, rank: int) -> tuple[float, float] | None:
        """The bounds (lower, upper) between which the ``rank``-th smallest value lies
        for certain: its bucket's, the upper one no higher than a known maximum."""
        total = self.count
        if total <= 0:
            return None
        rank = min(max(rank, 1), total)
        seen = 0
        lower = 0.0
        for bound, count in zip(self.upper_bounds, self.counts, strict=True):
            seen += count
            if seen >= rank:
                break
            lower = bound
        else:
            bound = math.inf
        upper = bound if self.max is None else min(bound, self.max)
        if math.isinf(upper):
            upper = max(lower, self.highest_finite())
        return min(lower, upper), upper

    def quantile(self, q: float) -> float | None:
        """The q-quantile by nearest rank (see the module docstring); None when empty."""
        return self.value_at_rank(nearest_rank(q, self.count))

    def highest_finite(self) -> float:
        return max((bound for bound in self.upper_bounds if math.isfinite(bound)), default=0.0)

    def count_above(self, seconds: float) -> int:
        return count_above(self, seconds)


def nearest_rank(q: float, count: int) -> int:
    """k = ceil(q * n), at least 1; rounded first so that 0.95 * 20 is 19, not 20."""
    return max(1, math.ceil(round(q * count, 9)))


def _inside(lower: float, upper: float, highest_finite: float) -> float:
    """The value a bucket (lower, upper] stands for."""
    if upper <= 0:
        return 0.0  # the bucket of zeros: an idle checkout waits 0 s
    if math.isinf(upper):
        return highest_finite  # as Prometheus answers, when no maximum is known
    if lower <= 0:
        return upper / 2
    return math.sqrt(lower * upper)


def _with_max(histogram: Histogram, maximum: float | None, *, exact: bool) -> Histogram:
    return Histogram(
        upper_bounds=histogram.upper_bounds,
        counts=histogram.counts,
        sum=histogram.sum,
        max=maximum,
        max_exact=exact and maximum is not None,
    )


def count_above(histogram: Histogram | None, seconds: float) -> int:
    """Observations in buckets that lie wholly above ``seconds`` (a bucket bound)."""
    if histogram is None:
        return 0
    total = 0
    lower = 0.0
    for bound, count in zip(histogram.upper_bounds, histogram.counts, strict=True):
        if lower >= seconds:
            total += count
        lower = bound
    return total
