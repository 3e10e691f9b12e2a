"""`poolscope run --locustfile` judges what it ran: a run that measured nothing, too many
failed requests, a starved thread pool and `--fail-if` each exit 1 with the reason."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, make_asgi_app
from rich.console import Console
from sqlalchemy import create_engine, text

import poolscope
import poolscope.fastapi
from poolscope import url_for_driver
from poolscope.loadtest import (
    Configuration,
    Environment,
    PoolSummary,
    Run,
    TimingSummary,
    judge_run,
    load_run,
    render_summary,
)
from tests.loadtest.test_run_locustfile import serving
from tests.support.runs import minimal_run, run_poolscope
from tests.support.service_process import running_service

FLAKY_LOCUSTFILE = """
from locust import HttpUser, constant, task

class Shopper(HttpUser):
    wait_time = constant(0.05)

    @task
    def flaky(self):
        self.client.get("/flaky")
"""

# Back to back on the sample service's route whose Session comes from a sync yield
# dependency: more users than threads starve its thread pool (fastapi/fastapi#3205).
DEPENDS_LOCUSTFILE = """
from locust import FastHttpUser, task

class Depends(FastHttpUser):
    @task
    def hold(self):
        self.client.get("/deadlock/depends/hold?seconds=0.5", name="depends")
"""

# Its user never sends a request: the run measures nothing.
IDLE_LOCUSTFILE = """
import gevent
from locust import HttpUser, task

class Idle(HttpUser):
    @task
    def wait(self):
        gevent.sleep(3600)
"""


@pytest.fixture(scope="module")
def host(database_url: str) -> Iterator[str]:
    """An own service whose GET /flaky fails every third request."""
    registry = CollectorRegistry()
    engine = create_engine(url_for_driver(database_url, "psycopg2"), pool_size=2)
    instrumentation = poolscope.instrument(engine, pool="flaky", registry=registry)
    app = FastAPI()
    poolscope.fastapi.instrument_app(app)
    app.include_router(poolscope.fastapi.pool_router(instrumentation))
    app.mount("/metrics", make_asgi_app(registry))
    # next() on a count is atomic: the route runs on several threads at once, and a
    # `+= 1` there can lose counts and so failures.
    served = itertools.count(1)

    @app.get("/flaky")
    def flaky() -> Response:
        ordinal = next(served)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return Response(status_code=500 if ordinal % 3 == 0 else 200)

    try:
        with serving(app) as url:
            yield url
    finally:
        instrumentation.close()
        engine.dispose()


def play(
    host: str, tmp_path: Path, locustfile: str, *arguments: str, users: int = 2
) -> tuple[subprocess.CompletedProcess[str], Run, dict[str, object]]:
    path = tmp_path / "judged.py"
    path.write_text(locustfile)
    result = run_poolscope(
        "run",
        "--locustfile",
        str(path),
        "--host",
        host,
        "--users",
        str(users),
        "--out",
        str(tmp_path),
        *arguments,
    )
    [run_file] = tmp_path.glob("judged-*.json")
    return result, load_run(run_file), json.loads(run_file.read_text())


@pytest.mark.slow
def test_failed_requests_and_fail_if_exit_1_with_their_reasons(host: str, tmp_path: Path) -> None:
    result, run, _ = play(
        host,
        tmp_path,
        FLAKY_LOCUSTFILE,
        "--duration",
        "4s",
        "--fail-if",
        "failures>=1",
        "--fail-if",
        "p95>3600s",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert run.complete
    assert run.locust is not None
    failures, requests = run.locust.failures, run.locust.requests
    # Every third request the service answered failed (Locust misses those in flight at
    # its stop); any count of them is above 1 %.
    assert failures >= 1
    assert failures >= requests // 3 - 2
    reasons = [line for line in result.stderr.splitlines() if line.startswith("poolscope: ")]
    percent = f"{failures / requests * 100:.3g} %"
    assert reasons == [
        f"poolscope: judged: {failures} of {requests} requests failed ({percent}), "
        "above --max-failure-rate 1 %",
        f"poolscope: --fail-if 'failures>=1' holds for judged: failures = {failures:,}",
    ]


@pytest.mark.slow
def test_a_run_that_completed_no_request_says_so_and_shows_no_data(
    host: str, tmp_path: Path
) -> None:
    result, run, raw = play(host, tmp_path, IDLE_LOCUSTFILE, "--duration", "2s")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "judged: no request completed in 2 s, so nothing was measured" in result.stderr
    assert run.locust is not None
    assert run.locust.requests == 0
    # null in the run file, "no data" in the summary: never a latency of 0.
    locust = raw["locust"]
    assert isinstance(locust, dict)
    assert set(locust["latency_ms"].values()) == {None}
    latency_row = next(line for line in result.stdout.splitlines() if "latency p50" in line)
    assert "no data / no data" in latency_row
    wait_row = next(line for line in result.stdout.splitlines() if "wait p50" in line)
    assert "no data" in wait_row
    [run_file] = tmp_path.glob("judged-*.json")
    compare = run_poolscope("compare", str(run_file), str(run_file), "--format", "markdown")
    assert compare.returncode == 0, compare.stderr
    p95 = next(line for line in compare.stdout.splitlines() if "latency p95" in line)
    assert p95.count("no data") == 2, p95


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.process
def test_a_locust_test_that_starves_the_thread_pool_exits_1(
    database_url: str, tmp_path: Path
) -> None:
    # 16 users, 8 threads, 5 connections: every thread waits for a connection held by a
    # request that has no thread to return it on. The pool timeout (2 s) ends each stall
    # with failed requests; --max-failure-rate 100 % leaves the starvation as the reason.
    serve = ("--pool-size", "5", "--thread-limit", "8", "--pool-timeout", "2")
    with running_service(*serve, "--database-url", database_url) as service:
        arguments = ["--duration", "4s", "--max-failure-rate", "100%"]
        result, run, _ = play(service.base_url, tmp_path, DEPENDS_LOCUSTFILE, *arguments, users=16)
    assert result.returncode == 1, result.stdout + result.stderr
    assert run.pool is not None
    assert (run.pool.thread_limit, run.pool.max_threads_busy) == (8, 8)
    assert run.pool.starved_idle_connections == 5
    reasons = [line for line in result.stderr.splitlines() if line.startswith("poolscope: ")]
    assert len(reasons) == 1, result.stderr
    assert reasons[0].startswith(
        "poolscope: judged: deadlock: threads 8/8 busy, all waiting for a connection; "
        "5 connections checked out and idle for "
    ), reasons
    assert reasons[0].endswith("the thread pool is starved, not the pool"), reasons


def a_run(**pool: object) -> Run:
    """A run of an own Locust test that completed 100 requests, 2 of them failed."""
    timing = TimingSummary(count=100, sum=1.0, p50=0.01, p95=0.02, p99=0.03, max=0.04)
    return Run.model_validate(
        {
            "scenario": "shop",
            "variant": "run",
            "complete": True,
            "started_at": datetime(2026, 12, 1, tzinfo=UTC),
            "finished_at": datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC),
            "configuration": Configuration(
                database_url="(the service's own)",
                driver="psycopg",
                pool_size=5,
                max_overflow=0,
                pool_timeout=30.0,
                users=10,
                spawn_rate=10.0,
                duration_seconds=30.0,
                host="http://127.0.0.1:8000",
            ),
            "environment": Environment(
                poolscope="0", python="3.11", sqlalchemy="2.1", locust="2", platform="x", cpus=2
            ),
            "locust": {
                "requests": 100,
                "failures": 2,
                "requests_per_second": 3.3,
                "latency_ms": {"min": 1, "mean": 5, "p50": 4, "p95": 9, "p99": 12, "max": 20},
                "endpoints": [],
            },
            "pool": PoolSummary.model_validate(
                {
                    "checkouts": 100,
                    "connects": 5,
                    "pools_created": 1,
                    "timeouts": 0,
                    "wait": timing,
                    "use": timing,
                    "max_used": 5,
                    "max_idle": 5,
                    "max_pending": 0,
                    "max_overflow": 0,
                    "final_used": 0,
                    "final_overflow": 0,
                    **pool,
                }
            ),
            "samples": [],
        }
    )


def test_a_starved_thread_pool_fails_an_own_locust_test() -> None:
    starved = a_run(
        thread_limit=8, max_threads_busy=8, starved_seconds=4.5, starved_idle_connections=5
    )
    [reason] = judge_run(starved, starvation=True)
    assert reason.startswith("shop/run: deadlock: threads 8/8 busy, all waiting for a connection")
    # A built-in scenario starves on purpose: its check judges it, not this.
    assert judge_run(starved) == []
    assert judge_run(a_run(), starvation=True) == []


def test_the_failure_rate_and_the_minimum_are_judged_as_stated() -> None:
    run = a_run()  # 2 failed of 100
    assert judge_run(run, max_failure_rate=0.02) == []
    [reason] = judge_run(run, max_failure_rate=0.01)
    assert reason == "shop/run: 2 of 100 requests failed (2 %), above --max-failure-rate 1 %"
    assert judge_run(run, min_requests=100) == []
    [reason] = judge_run(run, min_requests=101)
    assert reason == "shop/run: 100 completed requests, fewer than --min-requests 101"


def test_a_run_without_figures_summarises_as_no_data() -> None:
    # Its service died before Locust's totals or a sample of the pool were taken.
    console = Console(width=100, record=True, force_terminal=False)
    render_summary(console, [minimal_run()])
    rows = [line.strip("│ ").split("│") for line in console.export_text().splitlines()]
    figures = {row[0].strip(): row[1].strip() for row in rows if len(row) == 2 and row[1].strip()}
    assert set(figures.values()) == {"no data"}, figures
    assert {"requests (failed)", "wait p50 / p95 / max ms", "timeouts"} <= set(figures)
