"""A service of one's own whose route keeps its session across a slow outside call,
recorded by ``poolscope run --locustfile``: that route's busy share is low and the verdict
names it; a route that only queries is mostly busy."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolscope.loadtest import held_idle_cause, load_run
from tests.support.example_service import running_example
from tests.support.runs import run_poolscope

pytestmark = pytest.mark.slow

MEMORIES = Path(__file__).resolve().parents[1] / "support" / "memories"


def test_the_route_holding_its_session_across_the_call_is_named(
    database_url: str, tmp_path: Path
) -> None:
    with running_example(database_url, pool_size=4, app_dir=MEMORIES) as host:
        result = run_poolscope(
            "run", "--locustfile", str(MEMORIES / "locustfile.py"), "--host", host,
            "--users", "8", "--duration", "8s", "--label", "memories", "--out", str(tmp_path),
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    [path] = tmp_path.glob("memories-*.json")
    run = load_run(path)
    assert run.pool is not None
    routes = {route.route: route for route in run.pool.routes}
    across, query = routes["/memories"], routes["/memories/{memory_id}"]
    assert across.busy_share is not None
    assert across.busy_share < 0.10, across
    assert query.busy_share is not None
    assert query.busy_share > 0.50, query
    cause = held_idle_cause(run.pool)
    assert cause is not None
    assert cause.startswith("/memories holds its connection ")
    assert f"memories: {cause}" in " ".join(result.stdout.split())
