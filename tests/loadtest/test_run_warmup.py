"""`--warmup`: a run's figures cover only the time after the warm-up, the run file keeps
the whole run's too, and a sweep's figures (its verdict's) leave the warm-up out."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, make_asgi_app
from sqlalchemy import create_engine, text

import poolscope
import poolscope.fastapi
from poolscope import url_for_driver
from poolscope.loadtest import Run, load_run
from poolscope.sweep._figures import step_from_run
from tests.loadtest.test_run_locustfile import serving
from tests.support.runs import run_poolscope

pytestmark = pytest.mark.slow

# Like users logging in at once (CPU-bound hashing): the first seconds are slow.
SLOW_START_SECONDS = 2.0
SLOW_HOLD_SECONDS = 0.3

LOCUSTFILE = """
from locust import HttpUser, constant, task

class Visitor(HttpUser):
    wait_time = constant(0.05)

    @task
    def page(self):
        self.client.get("/page")
"""


@pytest.fixture(scope="module")
def warmed_run(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One run with a warm-up against a service slow for its first seconds under load."""
    tmp_path = tmp_path_factory.mktemp("warmup")
    registry = CollectorRegistry()
    engine = create_engine(url_for_driver(database_url, "psycopg2"), pool_size=4)
    instrumentation = poolscope.instrument(engine, pool="warm", registry=registry)
    app = FastAPI()
    poolscope.fastapi.instrument_app(app)
    app.mount("/metrics", make_asgi_app(registry))
    slow_until: list[float] = []

    @app.get("/page")
    def page() -> dict[str, bool]:
        if not slow_until:
            slow_until.append(time.monotonic() + SLOW_START_SECONDS)
        slow = time.monotonic() < slow_until[0]
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(:s)"), {"s": SLOW_HOLD_SECONDS if slow else 0})
        return {"slow": slow}

    locustfile = tmp_path / "visits.py"
    locustfile.write_text(LOCUSTFILE)
    try:
        with serving(app) as host:
            result = run_poolscope(
                "run",
                "--locustfile",
                str(locustfile),
                "--host",
                host,
                "--users",
                "2",
                "--warmup",
                "4s",
                "--duration",
                "3s",
                "--out",
                str(tmp_path),
            )
        assert result.returncode == 0, result.stdout + result.stderr
        # The summary says what its figures cover.
        assert "visits: figures cover the 3 s after a 4 s warm-up" in result.stdout
        [path] = tmp_path.glob("visits-*.json")
        yield load_run(path)
    finally:
        instrumentation.close()
        engine.dispose()


def test_the_figures_cover_only_the_time_after_the_warmup(warmed_run: Run) -> None:
    run, warmup = warmed_run, warmed_run.warmup
    assert warmup is not None
    assert warmup.seconds == 4
    assert warmup.ended_at is not None
    assert run.configuration.duration_seconds == 3
    assert run.locust is not None
    assert warmup.locust is not None
    assert run.pool is not None
    assert warmup.pool is not None
    # The whole run holds the slow start; the figures after the warm-up do not.
    assert warmup.locust.latency_ms.p95 is not None
    assert warmup.locust.latency_ms.p95 >= SLOW_HOLD_SECONDS * 1000
    assert run.locust.latency_ms.p95 is not None
    assert run.locust.latency_ms.p95 < SLOW_HOLD_SECONDS * 1000
    assert warmup.pool.use.p95 is not None
    assert warmup.pool.use.p95 >= SLOW_HOLD_SECONDS * 0.9
    assert run.pool.use.p95 is not None
    assert run.pool.use.p95 < SLOW_HOLD_SECONDS * 0.9
    # Counts after the warm-up are the whole run's minus the warm-up's, on both sides.
    assert 0 < run.locust.requests < warmup.locust.requests
    assert 0 < run.pool.checkouts < warmup.pool.checkouts
    # One checkout per request: the two clocks cut the run within the requests in flight.
    assert abs(run.pool.checkouts - run.locust.requests) <= 2 * run.configuration.users
    # Locust keeps its extremes for the whole run only: not measured after the warm-up.
    assert (run.locust.latency_ms.min, run.locust.latency_ms.max) == (None, None)
    assert warmup.locust.latency_ms.max is not None


def test_a_sweep_step_reads_only_the_samples_after_the_warmup(warmed_run: Run) -> None:
    warmup = warmed_run.warmup
    assert warmup is not None
    assert warmup.ended_at is not None
    after = warmed_run.samples_after_warmup()
    assert after
    assert all(sample.t >= warmup.ended_at for sample in after)
    assert len(after) < len(warmed_run.samples)
    step = step_from_run(warmed_run, "visits.json")
    assert warmed_run.pool is not None
    assert (step.checkouts, step.max_used) == (warmed_run.pool.checkouts, warmed_run.pool.max_used)
    assert warmed_run.locust is not None
    assert step.latency_p95_ms == warmed_run.locust.latency_ms.p95
