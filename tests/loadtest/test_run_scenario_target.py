"""A built-in scenario checks its target first and says when its own check fails: a target
that is not the sample service is refused in one line (exit 2), a failed check exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolscope.loadtest import load_run
from tests.support.cli import invoke
from tests.support.runs import run_poolscope

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]


def test_a_target_without_the_scenarios_routes(example_host: str, tmp_path: Path) -> None:
    result = invoke("run", "pool-saturation", "--host", example_host, "--out", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "does not serve GET /hold (answered 404)" in line
    assert "pool-saturation" in line
    assert not list(tmp_path.glob("*.json"))


def test_a_failed_check_exits_1(database_url: str, tmp_path: Path) -> None:
    # 5 users on a pool of 10: nobody waits, which is not what pool-saturation shows.
    result = run_poolscope(
        "run",
        "pool-saturation",
        "--users",
        "5",
        "--duration",
        "4s",
        "--out",
        str(tmp_path),
        "--database-url",
        database_url,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    [path] = tmp_path.glob("*.json")
    run = load_run(path)
    assert run.complete
    assert run.check is not None
    assert not run.check.passed
    assert "NOT as expected" in result.stdout
    # Read from the started service's own metrics and /pool.
    assert (run.configuration.pool_size, run.configuration.max_overflow) == (10, 0)
    assert run.configuration.pool == "service"
    assert run.configuration.driver == "psycopg2"
