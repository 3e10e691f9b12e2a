"""A service of one's own whose route keeps its session across a slow outside call,
recorded by ``poolscope run --locustfile``: that route's busy share is low and the verdict
names it; a route that only queries is mostly busy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from poolscope.postgres import free_port
from poolscope.readings import held_idle_cause, load_run
from tests.support.example_service import running_example
from tests.support.runs import run_poolscope

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]

MEMORIES = Path(__file__).resolve().parents[1] / "support" / "memories"


def test_the_route_holding_its_session_across_the_call_is_named(
    database_url: str, tmp_path: Path
) -> None:
    with running_example(database_url, pool_size=4, app_dir=MEMORIES) as host:
        result = run_poolscope(
            "run",
            "--locustfile",
            str(MEMORIES / "locustfile.py"),
            "--host",
            host,
            "--users",
            "8",
            "--duration",
            "8s",
            "--label",
            "memories",
            "--out",
            str(tmp_path),
        )
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


def test_the_locust_pool_tab_shows_busy_share_per_route(database_url: str) -> None:
    port = free_port()
    with running_example(database_url, pool_size=4, app_dir=MEMORIES) as host:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(MEMORIES / "locustfile.py"),
                "--web-host",
                "127.0.0.1",
                "--web-port",
                str(port),
                "--host",
                host,
                "--autostart",
                "-u",
                "8",
                "-r",
                "8",
                "-t",
                "60s",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rows = pool_tab_rows(f"http://127.0.0.1:{port}")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    across, query = rows["route /memories"], rows["route /memories/{memory_id}"]
    assert " ms per hold, busy " in across
    assert float(across.rsplit("busy ", 1)[1].rstrip(" %")) < 10
    assert float(query.rsplit("busy ", 1)[1].rstrip(" %")) > 50
    assert "busy share: in statements / held (this test)" in rows


def pool_tab_rows(base: str) -> dict[str, str]:
    """The Pool tab's rows once both routes have finished requests in this test."""
    deadline = time.monotonic() + 60
    rows: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/poolscope/pool", timeout=5).json()
            rows = {row["metric"]: row["value"] for row in answer["rows"]}
        except httpx.TransportError:
            rows = {}
        holds = [rows.get(f"route {r}", "0 holds") for r in ("/memories", "/memories/{memory_id}")]
        if all(int(text.split()[0]) >= 10 for text in holds):
            return rows
        time.sleep(0.5)
    raise AssertionError(f"the Pool tab never showed both routes: {rows}")
