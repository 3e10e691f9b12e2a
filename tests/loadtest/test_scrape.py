"""Reading /metrics: series summed over pools, histogram deltas and quantiles."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client import Histogram as PrometheusHistogram

from poolscope import metrics as _names
from poolscope.loadtest import Histogram, parse_metrics
from poolscope.readings import TimedSnapshot, samples_since, summarize_pool


def exposition(registry: CollectorRegistry, *, waits: dict[str, list[float]]) -> str:
    labels = [_names.POOL_LABEL]
    count = Gauge(
        _names.CONNECTION_COUNT, "c", [_names.POOL_LABEL, _names.STATE_LABEL], registry=registry
    )
    pending = Gauge(_names.CONNECTION_PENDING_REQUESTS, "p", labels, registry=registry)
    overflow = Gauge(_names.POOL_OVERFLOW, "o", labels, registry=registry)
    checkouts = Counter(_names.POOL_CHECKOUTS, "k", labels, registry=registry)
    wait = PrometheusHistogram(
        _names.CONNECTION_WAIT_TIME, "w", labels, buckets=_names.DEFAULT_BUCKETS, registry=registry
    )
    for pool, observed in waits.items():
        count.labels(pool, "used").set(3)
        count.labels(pool, "idle").set(2)
        pending.labels(pool).set(1)
        overflow.labels(pool).set(0)
        for seconds in observed:
            checkouts.labels(pool).inc()
            wait.labels(pool).observe(seconds)
    return generate_latest(registry).decode()


def test_sums_over_pools(registry: CollectorRegistry) -> None:
    snapshot = parse_metrics(exposition(registry, waits={"a": [0.001, 0.7], "b": [0.002]}))
    assert snapshot.pools == ("a", "b")
    assert (snapshot.used, snapshot.idle, snapshot.pending) == (6, 4, 2)
    assert snapshot.checkouts == 3
    assert snapshot.wait.count == 3
    assert snapshot.wait.sum == pytest.approx(0.703)
    assert snapshot.wait.count_above(0.5) == 1
    assert snapshot.instrumented


def test_text_without_pool_metrics_reads_empty() -> None:
    snapshot = parse_metrics("# HELP x y\n# TYPE x gauge\nx 1.0\n")
    assert not snapshot.instrumented
    assert snapshot.wait.quantile(0.5) is None


def test_quantile_is_read_from_the_bucket_of_its_rank() -> None:
    # A target without poolscope's fine buckets or maxima (another exporter, an older
    # poolscope): the bucket's geometric middle, or half its bound for the first one.
    histogram = Histogram(upper_bounds=(0.1, 1.0, math.inf), counts=(10, 10, 0), sum=5.0)
    assert histogram.quantile(0.5) == pytest.approx(0.05)
    assert histogram.quantile(0.75) == pytest.approx(math.sqrt(0.1))
    assert histogram.max is None
    assert histogram.count_above(0.1) == 10
    in_inf = Histogram(upper_bounds=(1.0, math.inf), counts=(0, 4), sum=40.0)
    assert in_inf.quantile(0.99) == 1.0
    # With the exact maximum: never above it, and the last rank is the maximum itself.
    known = Histogram(upper_bounds=(1.0, math.inf), counts=(0, 4), sum=40.0, max=12.5)
    assert known.quantile(0.5) == 12.5
    assert known.quantile(1.0) == 12.5


def test_fine_buckets_and_maxima_are_read_where_exported(registry: CollectorRegistry) -> None:
    labels = [_names.POOL_LABEL]
    fine = PrometheusHistogram(
        _names.POOL_WAIT_TIME, "w", labels, buckets=_names.FINE_BUCKETS, registry=registry
    )
    coarse = PrometheusHistogram(
        _names.CONNECTION_WAIT_TIME, "w", labels, buckets=_names.DEFAULT_BUCKETS, registry=registry
    )
    largest = Gauge(_names.POOL_WAIT_TIME_MAX, "m", labels, registry=registry)
    for histogram in (fine, coarse):
        for seconds in (0.0, 1.03, 1.04):
            histogram.labels("a").observe(seconds)
    largest.labels("a").set(1.04)
    snapshot = parse_metrics(generate_latest(registry).decode())
    assert snapshot.wait.upper_bounds[:-1] == _names.FINE_BUCKETS
    assert (snapshot.wait.max, snapshot.wait.max_exact) == (1.04, True)
    assert snapshot.wait.quantile(0.5) == pytest.approx(1.03, rel=0.1)
    assert snapshot.wait.quantile(0.5) != pytest.approx(1.75, rel=0.1)  # the coarse answer


def test_samples_and_summary_are_relative_to_the_baseline(registry: CollectorRegistry) -> None:
    before = parse_metrics(exposition(registry, waits={"a": [0.001] * 5}))
    after = parse_metrics(exposition(CollectorRegistry(), waits={"a": [0.001] * 5 + [0.7, 0.002]}))
    timed = [TimedSnapshot(t=0.5, snapshot=after)]
    summary = summarize_pool(before, timed)
    assert summary is not None
    assert summary.checkouts == 2
    assert summary.wait.count == 2
    assert summary.max_used == 3
    assert summary.wait_histogram is not None
    assert sum(summary.wait_histogram.counts) == 2
    (sample,) = samples_since(before, timed)
    assert sample.checkouts == 2
    assert sample.wait_count == 2
    assert sample.pending == 1
