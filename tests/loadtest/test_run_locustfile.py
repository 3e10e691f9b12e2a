"""`poolscope run --locustfile` on bad input, and on a target with several pools or none:
one line, exit 2, nothing started; with --pool, that pool's settings are recorded; a
target serving poolscope's /pool gets its leaks named in the run file."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, make_asgi_app, start_http_server
from sqlalchemy import create_engine

import poolscope
import poolscope.fastapi
from poolscope._urls import url_for_driver
from poolscope.loadtest import load_run
from poolscope.postgres import free_port
from tests.support.cli import invoke
from tests.support.runs import run_poolscope

LOCUSTFILE = """
from locust import HttpUser, constant, task

class Reader(HttpUser):
    wait_time = constant(0.1)

    @task
    def metrics(self):
        self.client.get("/metrics", name="metrics page")
"""


@contextmanager
def metrics_server(registry: CollectorRegistry) -> Iterator[str]:
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def two_pools(database_url: str) -> Iterator[str]:
    """A real target exporting two instrumented pools: orders (3 + 2) and billing (4 + 0)."""
    registry = CollectorRegistry()
    url = url_for_driver(database_url, "psycopg2")
    orders = create_engine(url, pool_size=3, max_overflow=2)
    billing = create_engine(url, pool_size=4, max_overflow=0)
    handles = [
        poolscope.instrument(orders, pool="orders", registry=registry),
        poolscope.instrument(billing, pool="billing", registry=registry),
    ]
    try:
        with metrics_server(registry) as host:
            yield host
    finally:
        for handle in handles:
            handle.close()
        orders.dispose()
        billing.dispose()


def assert_one_line_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["does not exist"]),
        ("import no_such_module_here\n", ["fails to import", "no_such_module_here"]),
        ("from locust import HttpUser\nVALUE = 1\n", ["no Locust user class"]),
    ],
    ids=["missing", "import-error", "no-user-class"],
)
def test_a_locustfile_that_cannot_be_played(
    tmp_path: Path, content: str | None, words: list[str]
) -> None:
    locustfile = tmp_path / "mytest.py"
    if content is not None:
        locustfile.write_text(content)
    # No target at all: the locustfile is checked before anything else.
    result = invoke(
        "run",
        "--locustfile",
        str(locustfile),
        "--host",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path),
    )
    assert_one_line_usage_error(result, "mytest.py", *words)
    assert not list(tmp_path.glob("*.json"))


def test_an_unknown_user_class(tmp_path: Path) -> None:
    locustfile = tmp_path / "mytest.py"
    locustfile.write_text(LOCUSTFILE)
    result = invoke(
        "run",
        "--locustfile",
        str(locustfile),
        "--host",
        "http://127.0.0.1:9",
        "--user-class",
        "Writer",
    )
    assert_one_line_usage_error(result, "no user class Writer", "Reader")


def test_a_target_without_poolscope_metrics(tmp_path: Path) -> None:
    locustfile = tmp_path / "mytest.py"
    locustfile.write_text(LOCUSTFILE)
    with metrics_server(CollectorRegistry()) as host:
        result = invoke("run", "--locustfile", str(locustfile), "--host", host)
    assert_one_line_usage_error(result, "exports no poolscope pool metrics", "poolscope.instrument")


def test_several_pools_need_pool(database_url: str, tmp_path: Path) -> None:
    locustfile = tmp_path / "mytest.py"
    locustfile.write_text(LOCUSTFILE)
    with two_pools(database_url) as host:
        several = invoke("run", "--locustfile", str(locustfile), "--host", host)
        unknown = invoke("run", "--locustfile", str(locustfile), "--host", host, "--pool", "x")
    assert_one_line_usage_error(several, "several pools (billing, orders)", "--pool")
    assert_one_line_usage_error(unknown, "no pool 'x'", "billing, orders")


@pytest.mark.e2e
@pytest.mark.process
@pytest.mark.slow
def test_pool_records_the_chosen_pools_settings(database_url: str, tmp_path: Path) -> None:
    locustfile = tmp_path / "mytest.py"
    locustfile.write_text(LOCUSTFILE)
    with two_pools(database_url) as host:
        result = run_poolscope(
            "run",
            "--locustfile",
            str(locustfile),
            "--host",
            host,
            "--pool",
            "orders",
            "--users",
            "2",
            "--duration",
            "2s",
            "--out",
            str(tmp_path),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    [path] = tmp_path.glob("mytest-*.json")
    run = load_run(path)
    assert run.complete, run.incomplete_reason
    configuration = run.configuration
    assert (configuration.pool, configuration.pool_size, configuration.max_overflow) == (
        "orders",
        3,
        2,
    )
    assert run.locust is not None
    assert [endpoint.name for endpoint in run.locust.endpoints] == ["metrics page"]
    assert run.locust.requests > 0


LEAKY_LOCUSTFILE = """
from locust import HttpUser, constant, task

class Borrower(HttpUser):
    wait_time = constant(0.2)

    def on_start(self):
        self.client.get("/keep")

    @task
    def ok(self):
        self.client.get("/ok")
"""


@contextmanager
def leaky_app(database_url: str) -> Iterator[FastAPI]:
    """An own service that keeps one connection per GET /keep, with poolscope's /pool."""
    registry = CollectorRegistry()
    engine = create_engine(url_for_driver(database_url, "psycopg2"), pool_size=3, max_overflow=0)
    instrumentation = poolscope.instrument(
        engine, pool="own", registry=registry, leak_threshold=0.5
    )
    kept: list[Any] = []
    app = FastAPI()
    poolscope.fastapi.instrument_app(app)
    app.include_router(poolscope.fastapi.pool_router(instrumentation))
    app.mount("/metrics", make_asgi_app(registry))

    @app.get("/keep")
    def keep() -> dict[str, int]:
        kept.append(engine.connect())  # never closed: the leak the run file must name
        return {"kept": len(kept)}

    @app.get("/ok")
    def ok() -> dict[str, bool]:
        return {"ok": True}

    try:
        yield app
    finally:
        for connection in kept:
            connection.close()
        instrumentation.close()
        engine.dispose()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.e2e
@pytest.mark.process
@pytest.mark.slow
def test_leak_reports_of_an_own_service(database_url: str, tmp_path: Path) -> None:
    locustfile = tmp_path / "leaky.py"
    locustfile.write_text(LEAKY_LOCUSTFILE)
    with leaky_app(database_url) as app, serving(app) as host:
        result = run_poolscope(
            "run",
            "--locustfile",
            str(locustfile),
            "--host",
            host,
            "--users",
            "1",
            "--duration",
            "3s",
            "--out",
            str(tmp_path),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    [path] = tmp_path.glob("leaky-*.json")
    run = load_run(path)
    assert run.pool is not None
    assert run.pool.leaks >= 1
    [report] = run.pool.leak_reports
    assert report.route == "/keep"
    assert "test_run_locustfile.py" in report.borrower
    assert "engine.connect()" in report.borrower
    assert run.configuration.driver == "psycopg2"
    assert (run.configuration.pool, run.configuration.pool_size) == ("own", 3)
    assert run.configuration.leak_threshold == 0.5  # as GET /pool tells it


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (("pool-saturation", "--pool", "main"), ["--pool go with --host"]),
        (("pool-saturation", "--locustfile", "x.py"), ["not both"]),
        (("--locustfile", "x.py", "--variant", "v"), ["--variant goes with a scenario"]),
        (
            ("--locustfile", "x.py", "--expect-workers", "2", "--processes", "2"),
            ["exclude each other"],
        ),
    ],
    ids=["pool-without-host", "scenario-and-locustfile", "variant", "workers-and-processes"],
)
def test_options_that_do_not_go_together(arguments: tuple[str, ...], words: list[str]) -> None:
    assert_one_line_usage_error(invoke("run", *arguments), *words)


@pytest.mark.process
def test_a_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    locustfile = tmp_path / "mytest.py"
    locustfile.write_text("import no_such_module_here\n")
    host = "http://127.0.0.1:9"
    result = run_poolscope("run", "--locustfile", str(locustfile), "--host", host)
    assert_one_line_usage_error(result, "mytest.py", "fails to import")
    assert "Traceback" not in result.stderr
