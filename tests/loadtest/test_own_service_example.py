"""The own-service example of docs/own-service.md (examples/orders), recorded by `poolscope run
--locustfile` at pool sizes 2 and 10: the run files show the pool each time, read from
the service itself, and compare tells the difference."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from poolscope._urls import url_for_driver
from poolscope.loadtest import Run, load_run
from tests.support.example_service import EXAMPLE_LOCUSTFILE, running_example
from tests.support.runs import run_poolscope

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]

USERS = 12  # more than the larger pool: the pool, not the users, limits the load


def record(host: str, out: Path, pool_size: int) -> tuple[Run, str]:
    result = run_poolscope(
        "run",
        "--locustfile",
        str(EXAMPLE_LOCUSTFILE),
        "--host",
        host,
        "--users",
        str(USERS),
        "--duration",
        "8s",
        "--label",
        f"pool-{pool_size}",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [path] = out.glob(f"pool-{pool_size}-*.json")
    return load_run(path), path.read_text()


def test_example_at_pool_sizes_2_and_10(
    database_url: str, example_host: str, tmp_path: Path
) -> None:
    small, small_text = record(example_host, tmp_path, 2)
    with running_example(database_url, pool_size=10) as host:
        large, large_text = record(host, tmp_path, 10)
    for run, pool_size in ((small, 2), (large, 10)):
        assert run.complete, run.incomplete_reason
        assert (run.configuration.pool_size, run.configuration.max_overflow) == (pool_size, 0)
        assert run.configuration.pool == "orders"
        assert run.configuration.pool_timeout == 30
        assert run.configuration.driver == "asyncpg"
        assert run.variant == f"pool-{pool_size}"
        assert run.locustfile is not None
        assert run.locustfile.path == str(EXAMPLE_LOCUSTFILE)
        assert run.locustfile.sha256 == hashlib.sha256(EXAMPLE_LOCUSTFILE.read_bytes()).hexdigest()
        assert run.locust is not None
        assert {e.name for e in run.locust.endpoints} == {
            "/orders/{order_id}",
            "/customers/{customer}/orders",
            "/reports/revenue",
        }
        assert run.locust.failures == 0
    assert small.pool is not None
    assert large.pool is not None
    assert small.pool.max_used == 2
    assert large.pool.max_used >= 8
    assert small.pool.wait.p95 is not None
    assert large.pool.wait.p95 is not None
    assert large.pool.wait.p95 < small.pool.wait.p95
    password = url_for_driver(database_url, "psycopg2").password
    assert password
    assert password not in small_text + large_text

    [small_path] = tmp_path.glob("pool-2-*.json")
    [large_path] = tmp_path.glob("pool-10-*.json")
    compared = run_poolscope("compare", str(small_path), str(large_path), "--format", "json")
    assert compared.returncode == 0, compared.stderr
    comparison = json.loads(compared.stdout)
    columns = [(c["label"], c["pool_size"], c["max_overflow"]) for c in comparison["runs"]]
    assert columns == [("pool-2", 2, 0), ("pool-10", 10, 0)]
    [verdict] = comparison["verdicts"]
    assert verdict.startswith("pool-10 vs pool-2 (only the pool size changed: 2 to 10): ")
    table = run_poolscope("compare", str(small_path), str(large_path), "--format", "markdown")
    assert "| pool-2 (baseline, pool 2 + 0) | pool-10 (pool 10 + 0) |" in table.stdout
