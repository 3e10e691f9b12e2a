"""A hostile target on 127.0.0.1: a /metrics that trickles, never ends, runs to megabytes
or reports +Inf and NaN, a /pool full of escapes. Every read ends in time and memory, with
one line saying why, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import httpx
import pytest

from poolscope.loadtest import RunInputError, inspect_target
from poolscope.readings import (
    MAX_METRICS_BYTES,
    MetricsSampler,
    PoolSnapshot,
    ScrapeError,
    TimedSnapshot,
    counters_reset,
    get_bounded,
    samples_since,
    summarize_pool,
)
from tests.support.hostile import CLEAR, GOOD_READS, hostile_target

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with hostile_target() as base:
        yield base


@pytest.mark.parametrize(
    ("path", "said"),
    [("trickle", "took longer than the deadline"), ("endless", "more than"), ("huge", "more than")],
)
def test_a_read_stops_at_its_deadline_or_size(target: str, path: str, said: str) -> None:
    started = time.monotonic()
    with httpx.Client(timeout=2) as client, pytest.raises(ScrapeError, match=said) as raised:
        get_bounded(client, f"{target}/{path}/metrics", limit=MAX_METRICS_BYTES, seconds=1.0)
    # The deadline, plus at most one read's wait for the chunk that crossed it.
    assert time.monotonic() - started < 4
    assert "\n" not in str(raised.value)


def test_the_sampler_says_why_a_trickling_target_failed(target: str) -> None:
    sampler = MetricsSampler(f"{target}/trickle", scrape_seconds=1.0)
    try:
        assert sampler.sample_once() is None
        assert sampler.consecutive_failures == 1
        assert sampler.failed_reads == 1
        assert sampler.last_error is not None
        assert "deadline" in sampler.last_error
    finally:
        sampler.stop()


def test_an_infinite_pool_size_is_refused_before_the_run(target: str) -> None:
    with pytest.raises(RunInputError, match="not a readable Prometheus exposition") as raised:
        inspect_target(f"{target}/inf", timeout=2)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("path", "said"), [("nan", "is nan"), ("inf-pending", "is inf")])
def test_infinite_or_nan_figures_fail_a_scrape_with_the_reason(
    target: str, path: str, said: str
) -> None:
    sampler = MetricsSampler(f"{target}/{path}")
    try:
        assert sampler.sample_once() is None
        assert sampler.last_error is not None
        assert f"pending_requests {said}, not a finite number" in sampler.last_error
    finally:
        sampler.stop()


def test_a_trickling_target_is_refused_before_the_run(target: str) -> None:
    started = time.monotonic()
    with pytest.raises(RunInputError, match="deadline"):
        inspect_target(f"{target}/trickle", timeout=1)
    assert time.monotonic() - started < 4


def test_a_hostile_pool_answer_is_kept_bounded(target: str) -> None:
    found = inspect_target(f"{target}/markup")
    assert found.pool_timeout is None  # +Inf is no timeout a run file can hold
    sampler = MetricsSampler(f"{target}/markup", pool="main")
    try:
        assert sampler.sample_once() is not None
        [report] = sampler.leak_reports()
    finally:
        sampler.stop()
    assert report.age_seconds == 0.0  # "soon" is no age
    assert len(report.borrower) < 10_100
    assert CLEAR in report.borrower  # kept as given; shown escaped (test_terminal)


PLUGIN_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from types import SimpleNamespace
    from poolscope.locust import PoolWatch
    answers = {}
    for case in sys.argv[2:]:
        name, _, scrapes = case.partition(":")
        watch = PoolWatch(SimpleNamespace(host=sys.argv[1] + "/" + name, parsed_options=None))
        started = time.monotonic()
        for _ in range(int(scrapes or 1)):
            watch.scrape()
        answers[name] = {"rows": watch.rows(), "seconds": time.monotonic() - started}
    print(json.dumps(answers))
    """
)


@pytest.mark.e2e
@pytest.mark.process
@pytest.mark.slow
def test_the_locust_plugin_shows_the_error_in_its_tab(target: str) -> None:
    # In a process of its own: importing the plugin imports Locust, which patches this one.
    cases = ["trickle", "endless", "inf-pending", "nan"]
    # Read twice; read until the target has gone bad.
    more = ["reset:2", f"souring:{GOOD_READS + 1}"]
    result = subprocess.run(
        [sys.executable, "-c", PLUGIN_SCRIPT, target, *cases, *more],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    # Checkouts went from 1000 down to 990: a reset, after which 990 were counted (-10
    # before).
    reset = {row["metric"]: row["value"] for row in answers["reset"]["rows"]}
    assert reset["checkouts (this test)"] == "990"
    for case in cases:
        rows = {row["metric"]: row["value"] for row in answers[case]["rows"]}
        assert rows.get("error"), (case, rows)
        assert "no data yet" not in rows.values()
        assert answers[case]["seconds"] < 10
    assert "deadline" in answers["trickle"]["rows"][0]["value"]
    # Gone bad during a test: the tab keeps what it read and says why it reads no more.
    soured = {row["metric"]: row["value"] for row in answers["souring"]["rows"]}
    assert soured["pools"] == "main"
    assert "answered more than 8,192 KB" in soured["error"]


def test_counters_that_go_down_count_on_from_their_reset() -> None:
    # A target restarted mid-run: its checkouts went from 100 to 7, then rose to 12.
    baseline = PoolSnapshot(checkouts=90, timeouts=3)
    timed = [
        TimedSnapshot(t=1.0, snapshot=PoolSnapshot(checkouts=100, timeouts=3)),
        TimedSnapshot(t=2.0, snapshot=PoolSnapshot(checkouts=7, timeouts=0)),
        TimedSnapshot(t=3.0, snapshot=PoolSnapshot(checkouts=12, timeouts=1)),
    ]
    assert counters_reset(baseline, timed)
    assert [sample.checkouts for sample in samples_since(baseline, timed)] == [10, 17, 22]
    summary = summarize_pool(baseline, timed)
    assert summary is not None
    assert (summary.checkouts, summary.timeouts) == (22, 1)
    assert not counters_reset(baseline, timed[:1])
