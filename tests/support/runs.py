"""A small valid run, for tests that need a run file but no load test; the command in a
subprocess, for tests that play one."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from poolscope.loadtest import Configuration, Environment, Run


def minimal_run() -> Run:
    now = datetime.now(UTC)
    return Run(
        scenario="pool-saturation",
        variant="default",
        complete=False,
        incomplete_reason="service died",
        started_at=now,
        finished_at=now,
        configuration=Configuration(
            database_url="postgresql+psycopg2://postgres:***@127.0.0.1:5432/postgres",
            driver="psycopg2",
            pool_size=10,
            max_overflow=0,
            pool_timeout=30,
            users=11,
            spawn_rate=11,
            duration_seconds=10,
            host="http://127.0.0.1:8000",
        ),
        environment=Environment(
            poolscope="0.1.0",
            python="3.11",
            sqlalchemy="2.1",
            locust="2.4",
            platform="linux",
            cpus=2,
        ),
        locust=None,
        pool=None,
        samples=[],
    )


def run_poolscope(*arguments: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    """``python -m poolscope ARGUMENTS`` to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "poolscope", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
