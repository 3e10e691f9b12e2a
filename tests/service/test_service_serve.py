"""`poolscope serve` as a real uvicorn process on 127.0.0.1, for every driver."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from poolscope import metrics as names
from poolscope._urls import DRIVERS
from poolscope.exporters._flush import FLUSH_SECONDS
from tests.support.faults import pool_state
from tests.support.service_process import ServiceProcess, running_service, serve_command
from tests.support.waiting import wait_until


def sample_total(exposition: str, name: str, **labels: str) -> float:
    """The sum of every sample called ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def timed_holds(base_url: str, count: int, seconds: float) -> list[float]:
    """Start ``count`` /hold requests at once; return each one's duration, sorted."""
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def one() -> float:
            started = time.perf_counter()
            response = await client.get("/hold", params={"seconds": seconds})
            assert response.status_code == 200, response.text
            return time.perf_counter() - started

        return sorted(await asyncio.gather(*(one() for _ in range(count))))


@pytest.fixture(scope="module", params=DRIVERS)
def service(database_url: str, request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    """One service per driver with the default pool (10 + 0), shared by the tests that
    leave its settings alone and read only the differences they make."""
    with running_service(
        "--database-url",
        database_url,
        "--driver",
        request.param,
        "--pool-size",
        "10",
        "--max-overflow",
        "0",
    ) as service:
        yield service


@pytest.mark.process
@pytest.mark.slow
def test_eleventh_request_waits_for_the_pool_of_ten(service: ServiceProcess) -> None:
    page = httpx.get(f"{service.base_url}/items", params={"limit": 7}).json()
    assert len(page["items"]) == 7
    for bad in ("-1", "31", "abc"):
        response = httpx.get(f"{service.base_url}/hold", params={"seconds": bad})
        assert response.status_code == 422, bad
    # Open all ten connections first so the measured holds do not pay for connecting.
    asyncio.run(timed_holds(service.base_url, 10, 0.2))

    waits_before = wait_buckets(service)
    durations = asyncio.run(timed_holds(service.base_url, 11, 1.0))
    waits_after = wait_buckets(service)

    first_ten, last = durations[:10], durations[10]
    assert all(0.95 <= duration < 1.6 for duration in first_ten), durations
    assert last >= 1.7, durations
    waits = {bound: waits_after[bound] - waits_before[bound] for bound in waits_after}
    assert waits["+Inf"] == 11
    # Ten got a connection at once; one waited about a second for the first to come back.
    assert waits["0.25"] == 10
    assert waits["0.5"] == 10
    assert waits["2.5"] == 11


def scrape(service: ServiceProcess) -> str:
    response = httpx.get(f"{service.base_url}/metrics")
    assert response.status_code == 200
    return response.text


def wait_buckets(service: ServiceProcess) -> dict[str, float]:
    """The service pool's wait-time histogram: cumulative count by upper bound."""
    buckets: dict[str, float] = {}
    for family in text_string_to_metric_families(scrape(service)):
        for sample in family.samples:
            if sample.name == f"{names.CONNECTION_WAIT_TIME}_bucket" and (
                sample.labels[names.POOL_LABEL] == "service"
            ):
                bound = sample.labels["le"]
                buckets[bound] = sample.value
    assert buckets, "no wait-time histogram for pool 'service'"
    return {_bound(bound): count for bound, count in buckets.items()}


def _bound(le: str) -> str:
    return "+Inf" if le == "+Inf" else f"{float(le):g}"


@pytest.mark.process
@pytest.mark.slow
@pytest.mark.parametrize("driver", DRIVERS)
def test_leaked_sessions_exhaust_the_pool_until_released(
    database_url: str, driver: str, admin_engine: Engine
) -> None:
    with running_service(
        "--database-url",
        database_url,
        "--driver",
        driver,
        "--pool-size",
        "3",
        "--max-overflow",
        "0",
        "--pool-timeout",
        "1",
        "--leak-bound",
        "3",
        "--leak-threshold",
        "0.3",
    ) as service:
        base = service.base_url
        for expected in (1, 2, 3):
            answer = httpx.get(f"{base}/antipatterns/leak").json()
            assert answer == {"items": 500, "kept_sessions": expected}
        bounded = httpx.get(f"{base}/antipatterns/leak")
        assert bounded.status_code == 503
        assert bounded.json()["error"] == "leak_bound_reached"
        pool = httpx.get(f"{base}/pool").json()
        assert (pool["state"]["used"], pool["state"]["idle"]) == (3, 0)
        assert pool["kept_leaked_sessions"] == 3
        assert pool["leak_threshold"] == 0.3

        started = time.perf_counter()
        exhausted = httpx.get(f"{base}/items", timeout=30)
        waited = time.perf_counter() - started
        assert exhausted.status_code == 503
        body = exhausted.json()
        assert body["error"] == "pool_exhausted"
        assert "exhausted" in body["message"]
        assert (body["pool_size"], body["max_overflow"], body["pool_timeout"]) == (3, 0, 1.0)
        assert waited >= 0.9
        assert sample_total(scrape(service), f"{names.CONNECTION_TIMEOUTS}_total") == 1

        assert httpx.post(f"{base}/antipatterns/leak/release").json() == {"released": 3}
        assert httpx.get(f"{base}/items").status_code == 200
        # Left open on purpose: shutdown must close it too.
        assert httpx.get(f"{base}/antipatterns/leak").status_code == 200
        assert service.stop() == 0

    assert "Traceback" not in service.log()
    assert "engine disposed" in service.log()
    # Held past --leak-threshold: reported with the route and the borrowing line.
    assert "Connection leak on pool 'service'" in service.log()
    assert "by route '/antipatterns/leak'" in service.log()
    assert "in leak_a_session" in service.log()
    assert connections_of(admin_engine, service) == 0


def connections_of(engine: Engine, service: ServiceProcess) -> int:
    """Server connections the service process still holds (its application_name has its pid)."""
    with engine.connect() as connection:
        count = connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE :name"),
            {"name": f"poolscope % {service.process.pid}"},
        )
    return int(count or 0)


@pytest.mark.process
@pytest.mark.slow
def test_engine_per_request_builds_a_pool_and_a_connection_each_time(
    service: ServiceProcess,
) -> None:
    pools = f"{names.POOLS_CREATED}_total"
    connects = f"{names.POOL_CONNECTS}_total"
    assert httpx.get(f"{service.base_url}/items").status_code == 200
    before = scrape(service)
    for _ in range(3):
        response = httpx.get(f"{service.base_url}/antipatterns/engine-per-request/items")
        assert response.status_code == 200
        assert len(response.json()["items"]) == 20
    after = scrape(service)
    assert httpx.get(f"{service.base_url}/items").status_code == 200
    again = scrape(service)
    assert sample_total(after, pools, pool="service") - sample_total(before, pools) == 3
    assert sample_total(after, connects, pool="service") - sample_total(before, connects) == 3
    # The right way reuses the service's one pool and its open connection.
    assert sample_total(again, pools) == sample_total(after, pools)
    assert sample_total(again, connects) == sample_total(after, connects)


@pytest.mark.process
@pytest.mark.slow
def test_two_workers_share_one_metrics_view(database_url: str) -> None:
    with running_service(
        "--database-url", database_url, "--workers", "2", "--thread-limit", "4"
    ) as service:
        base = service.base_url
        # A fresh connection per request lets the kernel hand requests to either worker,
        # once both have started.
        pids: set[int] = set()
        pool_requests = 0
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.add(httpx.get(f"{base}/pool").json()["pid"])
            pool_requests += 1
        for _ in range(20):
            response = httpx.get(f"{base}/items")
            assert response.status_code == 200
        checkouts = f"{names.POOL_CHECKOUTS}_total"
        # Each worker writes its pool's measurements to the shared files every FLUSH_SECONDS.
        deadline = time.monotonic() + 4 * FLUSH_SECONDS + 2
        while time.monotonic() < deadline:
            exposition = httpx.get(f"{base}/metrics").text
            if sample_total(exposition, checkouts, pool="service") >= 20 + 2:
                break
            time.sleep(0.05)
        scrapes = [httpx.get(f"{base}/metrics").text for _ in range(6)]
        # Both workers' thread pools (sync routes): the limit, and the threads 3 holds take.
        holds = [
            threading.Thread(
                target=httpx.get, args=(f"{base}/hold?seconds=4",), kwargs={"timeout": 30}
            )
            for _ in range(3)
        ]
        for hold in holds:
            hold.start()
        deadline = time.monotonic() + 3.5
        busy = 0.0
        while busy != 3 and time.monotonic() < deadline:
            busy = sample_total(httpx.get(f"{base}/metrics").text, names.THREADPOOL_BUSY_THREADS)
            time.sleep(0.05)
        for hold in holds:
            hold.join()
        assert busy == 3
        assert sample_total(scrapes[-1], names.THREADPOOL_LIMIT) == 2 * 4
    assert len(pids) == 2
    for exposition in scrapes:
        # Whichever worker answers, it reports the requests both of them served:
        assert sample_total(exposition, "http_requests_total", handler="/items") == 20
        assert sample_total(exposition, "http_requests_total", handler="/pool") == pool_requests
        # and the checkouts of both pools: one per /items, one per worker seeding at startup
        # (a worker that served no /items still adds its own).
        assert sample_total(exposition, checkouts, pool="service") == 20 + 2
        assert sample_total(exposition, f"{names.CONNECTION_MAX}", pool="service") == 2 * 10


@pytest.mark.process
def test_unreachable_database_fails_fast_in_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"postgresql://someone:Unreachable-Secret-42@127.0.0.1:{closed_port}/db"
    result = subprocess.run(
        serve_command("--database-url", url), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("poolscope: error: cannot use the database at ")
    assert f"someone:***@127.0.0.1:{closed_port}" in lines[0]
    assert "Unreachable-Secret-42" not in result.stderr


@pytest.mark.process
def test_invalid_flags_fail_in_one_line() -> None:
    result = subprocess.run(
        serve_command("--driver", "mysqldb", "--database-url", "postgresql://u:p@127.0.0.1/db"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "poolscope: error: invalid service settings: driver: Input should be 'psycopg2', "
        "'psycopg', 'asyncpg', 'psycopg_async', 'pymysql' or 'aiomysql'"
    ]


@pytest.mark.process
@pytest.mark.slow
def test_embedded_database_stays_up_unless_ephemeral(tmp_data_dir: str) -> None:
    from poolscope.postgres import EmbeddedPostgres

    embedded = EmbeddedPostgres(Path(tmp_data_dir))
    env = {"POOLSCOPE_DATA_DIR": tmp_data_dir}
    with running_service("--ephemeral-db", env=env) as service:
        assert httpx.get(f"{service.base_url}/items").status_code == 200
        assert embedded.status().running
    assert "embedded PostgreSQL stopped" in service.log()
    assert not embedded.status().running

    with running_service(env=env) as service:
        assert httpx.get(f"{service.base_url}/items").status_code == 200
    assert embedded.status().running  # kept for the next use


@pytest.fixture
def tmp_data_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An embedded server's home under /tmp (the postgres user cannot enter pytest's)."""
    from poolscope.postgres import EmbeddedPostgres

    monkeypatch.delenv("POOLSCOPE_DATABASE_URL", raising=False)
    root = tempfile.mkdtemp(prefix="poolscope-test-serve-pg-")
    try:
        yield root
    finally:
        EmbeddedPostgres(Path(root)).stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.process
def test_taken_port_fails_in_one_line(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            serve_command("--database-url", database_url, "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"poolscope: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.process
@pytest.mark.slow
def test_shutdown_cancels_a_long_sync_query_instead_of_waiting_for_it(database_url: str) -> None:
    answers: list[httpx.Response] = []
    with running_service("--database-url", database_url) as service:
        holding = threading.Thread(
            target=lambda: answers.append(
                httpx.get(f"{service.base_url}/hold?seconds=25", timeout=60)
            )
        )
        holding.start()
        # The stop comes while the query runs: once the hold has its connection.
        wait_until(lambda: pool_state(service.base_url)["used"] == 1, timeout=20)
        started = time.monotonic()
        assert service.stop() == 0
        stopped_after = time.monotonic() - started
        holding.join()
    # A few seconds of grace for in-flight requests, then the query is cancelled and the
    # client told, not waited for.
    assert stopped_after < 15
    assert answers[0].status_code == 503
    assert answers[0].json()["error"] == "shutting_down"
