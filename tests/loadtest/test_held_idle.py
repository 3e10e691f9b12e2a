"""The held-idle scenario played end to end (real service, Locust, PostgreSQL), and
poolscope's held-idle share against PostgreSQL's own view of the same connections."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from poolscope.readings import held_idle_cause
from tests.loadtest.test_run_e2e import assert_passed, poolscope_run, runs_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]

ACROSS = "/held-idle/across-call"


def test_held_idle_across_call_vs_released_on_async_routes(
    database_url: str, tmp_path: Path
) -> None:
    result = poolscope_run(
        database_url, tmp_path, "held-idle", "--duration", "6s", "--driver", "asyncpg"
    )
    assert_passed(result, tmp_path, database_url)
    runs = runs_in(tmp_path)
    across, released = runs["across-call"], runs["released"]
    assert across.pool is not None
    assert released.pool is not None
    assert across.locust is not None
    assert released.locust is not None
    assert released.locust.requests_per_second >= 3 * across.locust.requests_per_second
    # The summary printed names the route and the fix.
    printed = " ".join(result.stdout.split())
    assert f"across-call: {held_idle_cause(across.pool)}" in printed
    assert held_idle_cause(released.pool) is None


class ActivitySampler:
    """Samples pg_stat_activity: the states of every other client connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.states: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        query = text(
            "select state from pg_stat_activity where backend_type = 'client backend' "
            "and pid <> pg_backend_pid() and datname = current_database()"
        )
        with self.engine.connect() as connection:
            while not self.stop.wait(0.02):
                self.states.extend(str(state) for state in connection.scalars(query))
                connection.rollback()


def test_idle_share_agrees_with_pg_stat_activity(
    database_url: str, tmp_path: Path, admin_engine: Engine
) -> None:
    sampler = ActivitySampler(admin_engine)
    sampler.thread.start()
    try:
        result = poolscope_run(
            database_url,
            tmp_path,
            "held-idle",
            "--variant",
            "across-call",
            "--duration",
            "6s",
            "--driver",
            "psycopg2",
        )
    finally:
        sampler.stop.set()
        sampler.thread.join()
    assert result.returncode == 0, result.stdout + result.stderr
    pool = runs_in(tmp_path)["across-call"].pool
    assert pool is not None
    route = next(r for r in pool.routes if r.route == ACROSS)
    assert route.busy_share is not None
    poolscope_idle = 1.0 - route.busy_share
    # Checked out = in a transaction: running a statement (active) or between them.
    checked_out = [s for s in sampler.states if s in ("active", "idle in transaction")]
    assert len(checked_out) >= 100, sampler.states[:20]
    postgres_idle = checked_out.count("idle in transaction") / len(checked_out)
    assert abs(postgres_idle - poolscope_idle) <= 0.10, (postgres_idle, poolscope_idle)
