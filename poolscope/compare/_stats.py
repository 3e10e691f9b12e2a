"""Confidence intervals that say whether a difference between two runs is noise.

One run holds one sample per request (Locust's ``response_times``) or per checkout (the
pool's histograms), so a percentile's uncertainty comes from the order statistics: the
rank of the q-quantile in n observations is Binomial(n, q), which gives a
distribution-free interval without resampling (deterministic, cheap on 100k requests).
As benchstat does, a change counts only when the two runs' intervals do not overlap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from poolscope.loadtest import Histogram

__all__ = [
    "MIN_OBSERVATIONS",
    "Interval",
    "histogram_quantile_interval",
    "overlap",
    "rate_interval",
    "sample_quantile_interval",
]

# Two-sided 95 %.
Z = 1.959963984540054
# Below this many observations a percentile says nothing about the next run.
MIN_OBSERVATIONS = 10


@dataclass(frozen=True, kw_only=True)
class Interval:
    low: float
    high: float
    observations: int


def overlap(first: Interval, second: Interval) -> bool:
    return first.low <= second.high and second.low <= first.high


def _rank_bounds(observations: int, quantile: float) -> tuple[float, float]:
    """1-based ranks bracketing the q-quantile with 95 % confidence, clipped to the data."""
    centre = observations * quantile
    spread = Z * math.sqrt(observations * quantile * (1.0 - quantile))
    low = max(1.0, math.floor(centre - spread))
    high = min(float(observations), math.ceil(centre + spread) + 1.0)
    return low, high


def _finite(value: float) -> bool:
    return math.isfinite(value)


def sample_quantile_interval(counts: Mapping[str, int], quantile: float) -> Interval | None:
    """Interval for a percentile of Locust's per-request record (milliseconds -> count).

    Returns seconds. ``None`` when the record is missing or too small to say anything.
    """
    values: list[tuple[float, int]] = []
    for key, count in counts.items():
        try:
            value = float(key)
        except ValueError:
            continue
        if _finite(value) and value >= 0 and isinstance(count, int) and count > 0:
            values.append((value / 1000.0, count))
    values.sort()
    observations = sum(count for _, count in values)
    if observations < MIN_OBSERVATIONS:
        return None
    low_rank, high_rank = _rank_bounds(observations, quantile)
    return Interval(
        low=_value_at_rank(values, low_rank),
        high=_value_at_rank(values, high_rank),
        observations=observations,
    )


def _value_at_rank(values: Sequence[tuple[float, int]], rank: float) -> float:
    seen = 0
    for value, count in values:
        seen += count
        if seen >= rank:
            return value
    return values[-1][0]


def histogram_quantile_interval(histogram: Histogram, quantile: float) -> Interval | None:
    """Interval for a percentile of a run's histogram, in its unit: from the lower bound of
    the bucket holding the low rank to the upper bound of the one holding the high rank
    (no higher than the maximum), so it holds the true order statistics for certain."""
    observations = histogram.count
    if observations < MIN_OBSERVATIONS:
        return None
    low_rank, high_rank = _rank_bounds(observations, quantile)
    low = histogram.bucket_at_rank(math.floor(low_rank))
    high = histogram.bucket_at_rank(math.ceil(high_rank))
    if low is None or high is None:
        return None
    return Interval(low=low[0], high=high[1], observations=observations)


def rate_interval(events: int, rate: float) -> Interval | None:
    """Interval for a rate measured as ``events`` over a fixed time (Poisson counts)."""
    if events < MIN_OBSERVATIONS or not _finite(rate) or rate <= 0:
        return None
    relative = Z / math.sqrt(events)
    return Interval(
        low=rate * max(0.0, 1.0 - relative), high=rate * (1.0 + relative), observations=events
    )
