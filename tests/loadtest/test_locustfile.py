"""`locust -f locustfile.py` against a running service: every scenario's users run
headless, and the web UI lists every scenario and serves the Pool tab's data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from poolscope.postgres import free_port
from tests.support.service_process import ServiceProcess, running_service

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]

ROOT = Path(__file__).resolve().parents[2]
USER_CLASSES = {
    "PoolSaturationUser": "/hold",
    "GlobalEngineUser": "/items",
    "EnginePerRequestUser": "/items",
    "FixedSessionUser": "/items",
    "LeakySessionUser": "/antipatterns/leak",
    "OverflowBurstUser": "/hold",
    "DependsUser": "/deadlock/depends/hold",
    "FixedUser": "/deadlock/fixed/hold",
    "SteadyUser": "/hold",
}


@pytest.fixture(scope="module")
def service(database_url: str) -> Iterator[ServiceProcess]:
    # Roomy enough for one user of each class at once: pool 5 + overflow 10, short timeout.
    with running_service(
        "--pool-size",
        "5",
        "--max-overflow",
        "10",
        "--pool-timeout",
        "2",
        env={"POOLSCOPE_DATABASE_URL": database_url},
    ) as running:
        yield running


def locust(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfile.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


def test_list_names_every_scenario_user() -> None:
    result = locust("--list")
    assert result.returncode == 0, result.stderr
    assert set(USER_CLASSES) <= set(result.stdout.split())


def test_every_scenario_runs_headless(service: ServiceProcess, tmp_path: Path) -> None:
    # One user of each class, all at once: each scenario's requests reach the service.
    result = locust(
        "--headless",
        "--host",
        service.base_url,
        "-u",
        str(len(USER_CLASSES)),
        "-r",
        "50",
        "-t",
        "5s",
        "--json-file",
        str(tmp_path / "stats"),
        "--exit-code-on-error",
        "0",
        *USER_CLASSES,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    stats = json.loads((tmp_path / "stats.json").read_text())
    requested = {entry["name"] for entry in stats if entry["num_requests"] > 0}
    assert set(USER_CLASSES.values()) <= requested, requested


def test_tags_select_one_scenario(service: ServiceProcess, tmp_path: Path) -> None:
    result = locust(
        "--headless",
        "--host",
        service.base_url,
        "-u",
        "2",
        "-r",
        "10",
        "-t",
        "6s",
        "--tags",
        "engine-per-request",
        "--json-file",
        str(tmp_path / "stats"),
        "GlobalEngineUser",
        "EnginePerRequestUser",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert {entry["name"] for entry in stats} == {"/items"}


def test_web_ui_lists_scenarios_and_serves_the_pool_tab(service: ServiceProcess) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "locustfile.py"),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "--host",
            service.base_url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        page = None
        deadline = time.monotonic() + 60
        while page is None and time.monotonic() < deadline:
            try:
                page = httpx.get(f"{base}/", timeout=5).text
            except httpx.TransportError:
                time.sleep(0.3)
        assert page is not None
        for name in USER_CLASSES:
            assert name in page
        assert '"extended_tabs": [{"key": "pool", "title": "Pool"}]' in page
        assert '"show_userclass_picker": true' in page
        stats = httpx.get(f"{base}/stats/requests", timeout=10).json()
        (tab,) = stats["extended_stats"]
        rows = {row["metric"]: row["value"] for row in tab["data"]}
        assert rows["used / max"].endswith("/ 15"), rows
        # The service runs sync routes on FastAPI's default 40 threads, none busy now.
        assert rows["threads busy / limit, waiting"] == "0 / 40, 0", rows
        assert "error" not in rows
        pool = httpx.get(f"{base}/poolscope/pool", timeout=10).json()
        assert pool["error"] is None
        assert {row["metric"] for row in pool["rows"]} == set(rows)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
