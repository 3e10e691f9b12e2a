"""The dashboard and alert rules against a real Prometheus scraping the real sample service.

One run (about a minute): Prometheus scrapes ``poolscope serve`` every second while the
service goes through a healthy phase, saturation (more clients on ``/hold`` than the pool
holds), churn (its database connections killed, an engine per request) and a leak
(``/antipatterns/leak``). Then every dashboard query returns data over the run, the
saturation, slow-checkout, timeout and leak alerts fire, and nothing fired or was even
pending during the healthy phase.

The rules are rendered by dashboards/generate.py with ``for: 3s`` instead of minutes (the
expressions are the committed ones): a short run cannot wait five minutes.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text

from poolscope import metrics as _names
from poolscope._urls import url_for_driver
from poolscope.loadtest._processes import ManagedProcess
from poolscope.postgres import free_port
from poolscope.service._settings import ServiceSettings
from tests.support.dashboards import (
    alert_rules,
    annotation_exprs,
    generate,
    load_dashboard,
    panel_queries,
    substitute,
    variable_selectors,
)
from tests.support.service_process import running_service

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.external]

SCRAPE_INTERVAL = "1s"
# What Grafana's $__rate_interval is with a 1 s scrape interval: four scrapes.
RATE_INTERVAL = "4s"
ALERT_FOR = "3s"
POOL_SIZE, MAX_OVERFLOW = 2, 1
POOL_TIMEOUT_SECONDS = 1.0
# Well above the 1 s holds of the saturation phase, even on a busy machine.
LEAK_THRESHOLD_SECONDS = 3.0


@dataclass
class Prometheus:
    url: str
    process: ManagedProcess
    log_path: Path

    def api(self, path: str, **params: str | float) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def query_range(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api(
            "query_range", query=expr, start=start, end=end, step=1
        )["result"]
        return result


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="poolscope-dashboards-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_prometheus(workdir: Path, target: str) -> Prometheus:
    generate(workdir / "generated", "--alert-for", ALERT_FOR)
    rules = workdir / "generated" / "prometheus" / "alerts.yml"
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "poolscope", "static_configs": [{"targets": [target]}]}],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    executable = shutil.which("prometheus")
    assert executable, "prometheus is missing: apt-get install prometheus (.ci/run does)"
    port = free_port()
    log_path = workdir / "prometheus.log"
    command = [
        executable,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    process = ManagedProcess("prometheus", command, log_path=log_path).start()
    prometheus = Prometheus(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        try:
            if httpx.get(f"{prometheus.url}/-/ready", timeout=2).status_code == 200:
                return prometheus
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.stop()
    raise AssertionError(f"Prometheus did not become ready:\n{log_path.read_text()}")


def wait_for(prometheus: Prometheus, expr: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prometheus.query(expr):
            return
        time.sleep(0.5)
    raise AssertionError(f"{expr} never became true:\n{prometheus.log_path.read_text()[-3000:]}")


def load(base_url: str, path: str, *, clients: int, seconds: float, pause: float = 0) -> list[int]:
    """``clients`` threads requesting ``path`` for ``seconds``, ``pause`` seconds apart."""
    statuses: list[int] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            while time.monotonic() < deadline:
                statuses.append(http.get(path).status_code)
                time.sleep(pause)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@dataclass
class Run:
    prometheus: Prometheus
    start: float
    end: float
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)


def kill_service_connections(database_url: str) -> int:
    """Terminate the service's pooled connections, as a database restart or failover would."""
    engine = create_engine(url_for_driver(database_url, "psycopg2"))
    try:
        with engine.connect() as connection:
            killed: int = connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name LIKE :service"
                ),
                {"service": f"poolscope {ServiceSettings.model_fields['pool_name'].default} %"},
            )
            return killed
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def run(database_url: str, workdir: Path) -> Iterator[Run]:
    arguments = [
        *("--database-url", database_url),
        *("--driver", "psycopg2"),
        *("--pool-size", str(POOL_SIZE), "--max-overflow", str(MAX_OVERFLOW)),
        *("--pool-timeout", str(POOL_TIMEOUT_SECONDS)),
        *("--leak-threshold", str(LEAK_THRESHOLD_SECONDS)),
    ]
    with running_service(*arguments) as service:
        target = service.base_url.removeprefix("http://")
        # Open the healthy phase's connections before the first scrape: a checkout that
        # opens a connection waits for it, and the first few checkouts would otherwise
        # make up the whole wait-time window.
        load(service.base_url, "/items", clients=2, seconds=1)
        prometheus = start_prometheus(workdir, target)
        try:
            wait_for(prometheus, 'up{job="poolscope"} == 1')
            run = Run(prometheus=prometheus, start=time.time(), end=0)

            def phase(name: str, action: Any) -> None:
                began = time.time()
                action()
                # Let the last scrapes and rule evaluations of the phase happen.
                time.sleep(3)
                run.phases[name] = (began, time.time())

            # Fewer clients than connections: nobody waits. Paced, so that the wait
            # histogram's 5 min window is not all healthy checkouts when saturation comes.
            phase(
                "healthy",
                lambda: load(service.base_url, "/items", clients=2, seconds=10, pause=0.25),
            )
            # Eight clients holding a connection 1 s each: three connections, 1 s timeout.
            phase(
                "saturation",
                lambda: load(service.base_url, "/hold?seconds=1", clients=8, seconds=10),
            )

            def churn() -> None:
                assert kill_service_connections(database_url) > 0
                load(service.base_url, "/items", clients=1, seconds=2)
                load(
                    service.base_url,
                    "/antipatterns/engine-per-request/items",
                    clients=2,
                    seconds=6,
                )

            phase("churn", churn)

            def leak() -> None:
                with httpx.Client(base_url=service.base_url, timeout=30) as http:
                    for _ in range(POOL_SIZE):
                        assert http.get("/antipatterns/leak").status_code == 200
                    time.sleep(LEAK_THRESHOLD_SECONDS + 4)
                    assert http.post("/antipatterns/leak/release").status_code == 200

            phase("leak", leak)
            run.end = time.time()
            yield run
        finally:
            prometheus.process.stop()


def finite_values(series: list[dict[str, Any]]) -> list[float]:
    return [
        float(value)
        for one in series
        for _, value in one["values"]
        if not math.isnan(float(value)) and not math.isinf(float(value))
    ]


def test_every_dashboard_query_returns_data_over_the_run(run: Run) -> None:
    empty = []
    for query in panel_queries(load_dashboard()):
        expr = substitute(query.expr, rate_interval=RATE_INTERVAL)
        if not finite_values(run.prometheus.query_range(expr, run.start, run.end)):
            empty.append(f"{query.panel} [{query.ref_id}]: {expr}")
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_the_alert_annotation_marks_the_alerts_that_fired(run: Run) -> None:
    (expr,) = annotation_exprs(load_dashboard())
    series = run.prometheus.query_range(
        substitute(expr, rate_interval=RATE_INTERVAL), run.start, run.end
    )
    assert "PoolscopeConnectionLeak" in {one["metric"]["alertname"] for one in series}


def alerts(run: Run, phase: str, state: str = "firing") -> set[str]:
    start, end = run.phases[phase]
    series = run.prometheus.query_range(f'ALERTS{{alertstate="{state}"}}', start, end)
    return {one["metric"]["alertname"] for one in series}


def test_healthy_phase_raises_no_alert_not_even_pending(run: Run) -> None:
    start, end = run.phases["healthy"]
    checkouts = run.prometheus.query_range(
        f"sum(increase({_names.POOL_CHECKOUTS}_total[10s]))", start, end
    )
    assert max(finite_values(checkouts)) > 10, "the healthy phase checked nothing out"
    assert alerts(run, "healthy", "firing") == set()
    assert alerts(run, "healthy", "pending") == set()
    # Not just "not yet": no rule's condition held at any moment of the healthy phase.
    for rule in alert_rules():
        assert run.prometheus.query_range(rule["expr"], start, end) == [], rule["alert"]


def test_saturation_fires_the_saturation_wait_and_timeout_alerts(run: Run) -> None:
    assert {
        "PoolscopePoolSaturated",
        "PoolscopeCheckoutWaitHigh",
        "PoolscopeCheckoutTimeouts",
    } <= alerts(run, "saturation")
    assert "PoolscopeConnectionLeak" not in alerts(run, "saturation")


def test_engine_per_request_fires_the_pools_created_alert(run: Run) -> None:
    assert "PoolscopePoolsCreatedPerRequest" in alerts(run, "churn")


def test_leak_fires_the_leak_alert(run: Run) -> None:
    assert "PoolscopeConnectionLeak" in alerts(run, "leak")


def test_the_dashboard_variables_list_pools_instances_and_routes(run: Run) -> None:
    found = {}
    for variable, selector in variable_selectors(load_dashboard()).items():
        found[variable] = run.prometheus.api(
            f"label/{variable}/values",
            **{"match[]": substitute(selector, rate_interval=RATE_INTERVAL)},
            start=run.start,
            end=run.end,
        )
    assert found["job"] == ["poolscope"]
    assert found["pool"] == [ServiceSettings.model_fields["pool_name"].default]
    assert len(found["instance"]) == 1
    assert "/hold" in found["route"]
