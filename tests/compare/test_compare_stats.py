"""The intervals that separate a real change from noise."""

from __future__ import annotations

import math

from poolscope.compare._stats import (
    MIN_OBSERVATIONS,
    histogram_quantile_interval,
    overlap,
    rate_interval,
    sample_quantile_interval,
)
from poolscope.loadtest import Histogram

INF = float("inf")


def test_quantile_interval_brackets_the_median_of_a_uniform_record() -> None:
    # 1..1000 ms once each: the median is near 500 ms; n=1000 puts the 95 % ranks
    # within about ±31 of 500.
    record = {str(ms): 1 for ms in range(1, 1001)}
    interval = sample_quantile_interval(record, 0.5)
    assert interval is not None
    assert interval.observations == 1000
    assert 0.45 < interval.low < 0.5 < interval.high < 0.55


def test_quantile_interval_narrows_as_observations_grow() -> None:
    small = sample_quantile_interval({str(ms): 1 for ms in range(1, 101)}, 0.95)
    large = sample_quantile_interval({str(ms): 100 for ms in range(1, 101)}, 0.95)
    assert small is not None
    assert large is not None
    assert (large.high - large.low) < (small.high - small.low)


def test_too_few_observations_give_no_interval() -> None:
    assert sample_quantile_interval({"5": MIN_OBSERVATIONS - 1}, 0.5) is None
    assert sample_quantile_interval({}, 0.5) is None
    assert sample_quantile_interval({"not a number": 50}, 0.5) is None


def test_histogram_interval_spans_the_buckets_that_hold_its_ranks() -> None:
    # 100 observations in (0.1, 0.2]: the median lies somewhere in that bucket, no closer.
    interval = histogram_quantile_interval(histogram((0.1, 0.2, INF), (0, 100, 0)), 0.5)
    assert interval is not None
    assert (interval.low, interval.high) == (0.1, 0.2)
    # The same with the exact maximum known: no higher than it.
    capped = histogram_quantile_interval(histogram((0.1, 0.2, INF), (0, 100, 0), 0.15), 0.5)
    assert capped is not None
    assert capped.high == 0.15


def test_histogram_inf_bucket_answers_the_maximum_else_the_highest_finite_bound() -> None:
    interval = histogram_quantile_interval(histogram((0.1, 0.2, INF), (0, 0, 50)), 0.99)
    assert interval is not None
    assert interval.high == 0.2
    known = histogram_quantile_interval(histogram((0.1, 0.2, INF), (0, 0, 50), 75.0), 0.99)
    assert known is not None
    assert known.high == 75.0


def histogram(
    bounds: tuple[float, ...], counts: tuple[int, ...], top: float | None = None
) -> Histogram:
    return Histogram(
        upper_bounds=bounds, counts=counts, sum=0.0, max=top, max_exact=top is not None
    )


def test_rate_interval_is_poisson() -> None:
    interval = rate_interval(400, 100.0)
    assert interval is not None
    assert math.isclose(interval.high - 100.0, 100.0 * 1.96 / 20, rel_tol=0.01)
    assert rate_interval(3, 100.0) is None


def test_two_samples_of_one_distribution_overlap_and_shifted_ones_do_not() -> None:
    first = sample_quantile_interval({str(ms): 3 for ms in range(10, 30)}, 0.5)
    again = sample_quantile_interval({str(ms): 3 for ms in range(11, 31)}, 0.5)
    shifted = sample_quantile_interval({str(ms): 3 for ms in range(40, 60)}, 0.5)
    assert first is not None
    assert again is not None
    assert shifted is not None
    assert overlap(first, again)
    assert not overlap(first, shifted)
