"""`poolscope sweep --locustfile` against one's own service (examples/orders): started per
step by --serve-cmd with the step's pool size, or already running (--host), where the
steps vary the users instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from poolscope._urls import url_for_driver
from poolscope.loadtest import load_run
from poolscope.sweep import load_sweep
from tests.support.example_service import EXAMPLE_DIR, EXAMPLE_LOCUSTFILE
from tests.support.runs import run_poolscope

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]

# No shell runs it: `env` sets the pool size the example reads from POOL_SIZE.
SERVE = (
    f"env POOL_SIZE={{pool_size}} {sys.executable} -m uvicorn app:create_app --factory "
    f"--app-dir {EXAMPLE_DIR} --port {{port}}"
)


def sweep(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    url = url_for_driver(database_url, "asyncpg").render_as_string(hide_password=False)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "poolscope",
            "sweep",
            "--locustfile",
            str(EXAMPLE_LOCUSTFILE),
            "--duration",
            "4s",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
        env={**os.environ, "DATABASE_URL": url},
    )


def test_serve_cmd_starts_the_service_per_pool_size(database_url: str, tmp_path: Path) -> None:
    result = sweep(
        database_url,
        "--serve-cmd",
        SERVE,
        "--pool-sizes",
        "2,4",
        "--users",
        "8",
        "--out",
        str(tmp_path),
        "--database-url",
        database_url,
        "--warmup",
        "1s",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (sweep_file,) = tmp_path.glob("orders-sweep-*.json")
    sweep_ = load_sweep(sweep_file)
    assert [step.pool_size for step in sweep_.steps] == [2, 4]
    for step in sweep_.steps:
        run = load_run(tmp_path / step.run_file)
        assert run.complete, run.incomplete_reason
        assert run.configuration.pool_size == step.pool_size  # as the service reported it
        assert run.configuration.driver == "asyncpg"
        assert run.configuration.leak_threshold == 5  # as its GET /pool tells it
        # Each step's figures are those after its warm-up.
        assert run.warmup is not None
        assert run.warmup.ended_at is not None
        assert run.pool is not None
        assert run.warmup.pool is not None
        assert step.checkouts == run.pool.checkouts < run.warmup.pool.checkouts
        assert step.max_used == step.pool_size  # 8 users keep every connection busy
        log = (tmp_path / step.run_file).with_suffix(".service.log").read_text()
        assert "Uvicorn running on" in log  # the service's own output, beside its run
    # That the larger pool serves more is test_sweep_e2e.py's (throughput doubles per
    # doubling) and test_own_service_example.py's (the example waits less on pool 10).
    assert sweep_.max_connections is not None
    # The driver the runs recorded, not the --driver default (the sample service's).
    assert sweep_.configuration.driver == "asyncpg"
    assert sweep_.configuration.warmup_seconds == 1
    assert sweep_.configuration.serve_command is not None
    assert "{pool_size}" in sweep_.configuration.serve_command


def test_a_service_that_ignores_the_pool_size_is_one_line(
    database_url: str, tmp_path: Path
) -> None:
    ignoring = SERVE.replace("POOL_SIZE={pool_size}", "POOL_SIZE=3 ASKED={pool_size}")
    result = sweep(
        database_url, "--serve-cmd", ignoring, "--pool-sizes", "2", "--out", str(tmp_path)
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "reports pool size 3, not 2" in line
    assert load_sweep(next(tmp_path.glob("orders-sweep-*.json"))).steps == []


def test_host_alone_sweeps_the_users(database_url: str, example_host: str, tmp_path: Path) -> None:
    host = example_host
    result = sweep(
        database_url,
        "--host",
        host,
        "--users",
        "1,6",
        "--target-wait-p95",
        "100ms",
        "--out",
        str(tmp_path),
    )
    # A built-in scenario needs the sample service's routes: one line, nothing played.
    wrong = run_poolscope("sweep", "steady", "--host", host, "--out", str(tmp_path / "x"))
    assert wrong.returncode != 0
    assert f"{host} does not serve GET /hold" in wrong.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "x").exists()
    assert result.returncode == 0, result.stdout + result.stderr
    (sweep_file,) = tmp_path.glob("orders-sweep-*.json")
    sweep_ = load_sweep(sweep_file)
    assert sweep_.configuration.parameter == "users"
    assert [(step.users, step.pool_size) for step in sweep_.steps] == [(1, 2), (6, 2)]
    one, six = sweep_.steps
    assert one.max_pending == 0  # one user never waits for a pool of 2
    assert six.max_pending > 0
    assert sweep_.recommendation is not None
    assert sweep_.recommendation.recommended == 1
