"""Every wait and use figure poolscope derives, from the durations a pool records to the
run file's summary, is within 10 % of the exact one; the maximum is exact.

The exact q-percentile of n durations is the k-th smallest, k = ceil(q * n) (nearest
rank). Durations go where the checkout path puts them (the instrumentation's own lists),
out through the exporter's /metrics text, and back through the reader.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, create_engine

import poolscope
from poolscope._urls import url_for_driver
from poolscope.loadtest import Histogram, PoolSnapshot, TimingSummary, parse_metrics
from poolscope.readings import TimedSnapshot, samples_since, summarize_pool

QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)
ROUTES = ("/a", "/b", "")

# 1 ms to 30 s, spread evenly in log scale (so every decade is tried) and plainly.
durations = st.one_of(
    st.floats(min_value=math.log(0.001), max_value=math.log(30.0)).map(math.exp),
    st.floats(min_value=0.001, max_value=30.0),
)
duration_lists = st.lists(durations, min_size=1, max_size=300)


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(round(q * len(ordered), 9)))
    return ordered[rank - 1]


def assert_within_10_percent(figure: float | None, truth: float, what: str) -> None:
    assert figure is not None, what
    assert abs(figure - truth) <= 0.10 * truth, f"{what}: {figure} for {truth}"


def assert_summary(summary: TimingSummary, truth: list[float], *, exact_max: bool) -> None:
    assert summary.count == len(truth)
    assert summary.sum == pytest.approx(math.fsum(truth))
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert_within_10_percent(getattr(summary, name), exact_percentile(truth, q), name)
    if exact_max:
        assert summary.max == max(truth)
        assert summary.max_exact
    else:
        assert_within_10_percent(summary.max, max(truth), "max")


def assert_histogram(histogram: Histogram, truth: list[float]) -> None:
    for q in QUANTILES:
        assert_within_10_percent(histogram.quantile(q), exact_percentile(truth, q), f"q={q}")


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    # Never connected: the durations are put where the checkout path puts them.
    engine = create_engine(url_for_driver(database_url, "psycopg2"))
    yield engine
    engine.dispose()


class Target:
    """An instrumented engine in its own registry, and what its /metrics says."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.instrumentation = poolscope.instrument(engine, pool="p", registry=self.registry)

    def record(self, waits: list[float], uses: list[float]) -> None:
        probe = self.instrumentation.probe
        probe.waits.extend(waits)
        for index, seconds in enumerate(uses):
            probe.uses_for(ROUTES[index % len(ROUTES)]).append(seconds)

    def scrape(self) -> PoolSnapshot:
        return parse_metrics(generate_latest(self.registry).decode())

    def close(self) -> None:
        self.instrumentation.close()


def scrapes(
    engine: Engine,
    *,
    before: tuple[list[float], list[float]],
    during: tuple[list[float], list[float]],
) -> tuple[PoolSnapshot, PoolSnapshot]:
    """(baseline, after): /metrics after the waits and uses ``before``, and after those
    ``during`` too."""
    target = Target(engine)
    try:
        target.record(*before)
        baseline = target.scrape()
        target.record(*during)
        return baseline, target.scrape()
    finally:
        target.close()


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(waits=duration_lists, uses=duration_lists)
def test_every_percentile_within_10_percent_and_max_exact(
    engine: Engine, waits: list[float], uses: list[float]
) -> None:
    baseline, after = scrapes(engine, before=([], []), during=(waits, uses))
    assert after.wait.max == max(waits)
    assert_histogram(after.wait, waits)
    assert_histogram(after.use, uses)
    summary = summarize_pool(baseline, [TimedSnapshot(t=1.0, snapshot=after)])
    assert summary is not None
    assert_summary(summary.wait, waits, exact_max=True)
    assert_summary(summary.use, uses, exact_max=True)
    (sample,) = samples_since(baseline, [TimedSnapshot(t=1.0, snapshot=after)])
    for name, q in (("wait_p50", 0.5), ("wait_p95", 0.95), ("wait_p99", 0.99)):
        assert_within_10_percent(getattr(sample, name), exact_percentile(waits, q), name)


@SETTINGS
@given(before=duration_lists, during=duration_lists)
def test_a_run_after_earlier_traffic_reads_its_own_figures(
    engine: Engine, before: list[float], during: list[float]
) -> None:
    # The target served other traffic before the run's baseline: the run's figures are
    # its own, and its maximum is exact whenever it exceeds everything before.
    baseline, after = scrapes(engine, before=(before, before), during=(during, during))
    summary = summarize_pool(baseline, [TimedSnapshot(t=1.0, snapshot=after)])
    assert summary is not None
    rose = max(during) > max(before)
    assert_summary(summary.wait, during, exact_max=rose)
    assert_summary(summary.use, during, exact_max=rose)
    assert_histogram(after.wait.minus(baseline.wait), during)


def test_idle_checkouts_wait_exactly_zero(engine: Engine) -> None:
    _, after = scrapes(engine, before=([], []), during=([0.0] * 10 + [1.0], [1.0] * 11))
    assert after.wait.quantile(0.5) == 0.0
    assert after.wait.quantile(0.95) == 1.0  # the 11th of 11: the maximum itself
    assert after.use.quantile(0.5) == pytest.approx(1.0, rel=0.1)
    assert after.use.max == 1.0
