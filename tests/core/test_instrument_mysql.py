"""instrument() on MySQL's drivers (pymysql sync, aiomysql async) against a real MariaDB:
waits, timeouts, leaks naming the borrower, invalidations when the server kills a
connection, the pre-ping path, gauges at rest."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pymysql
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from poolscope import instrument
from poolscope import metrics as names
from poolscope._urls import url_for_driver
from tests.support.engines import async_engines_on, engines_on
from tests.support.holds import Holds, assert_the_eleventh_waited_for_a_release
from tests.support.pool_metrics import sample

HOLD_SECONDS = 0.5
CONNECTION_ID = text("SELECT CONNECTION_ID()")


@pytest.fixture
def make_sync(mysql_url: str) -> Iterator[Callable[..., Engine]]:
    with engines_on(url_for_driver(mysql_url, "pymysql")) as make:
        yield make


@pytest.fixture
async def make_async(mysql_url: str) -> AsyncIterator[Callable[..., AsyncEngine]]:
    async with async_engines_on(url_for_driver(mysql_url, "aiomysql")) as make:
        yield make


def kill(mysql_url: str, connection_ids: list[int]) -> None:
    """``KILL`` each connection from a connection of the test's own, as an operator would."""
    url = url_for_driver(mysql_url, "pymysql")
    admin = pymysql.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        with admin.cursor() as cursor:
            for connection_id in connection_ids:
                cursor.execute(f"KILL {int(connection_id)}")
            # KILL returns before the connection is gone: wait until the server lists none.
            listed = ", ".join(str(int(number)) for number in connection_ids)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                cursor.execute(
                    f"SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID IN ({listed})"
                )
                row = cursor.fetchone()
                if row is not None and row[0] == 0:
                    return
                time.sleep(0.02)
            raise AssertionError("the killed connections are still listed")
    finally:
        admin.close()


def assert_at_rest(registry: CollectorRegistry, pool: str, idle: int) -> None:
    assert sample(registry, names.CONNECTION_COUNT, pool, state="used") == 0
    assert sample(registry, names.CONNECTION_COUNT, pool, state="idle") == idle
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, pool) == 0
    assert sample(registry, names.POOL_OVERFLOW, pool) == 0


def assert_eleventh_waited_one_hold(
    registry: CollectorRegistry, pool: str, holds: Holds, seen_waiting: list[float | None]
) -> None:
    assert 10 in seen_waiting, seen_waiting
    waits = assert_the_eleventh_waited_for_a_release(holds, HOLD_SECONDS)
    wait_time = names.CONNECTION_WAIT_TIME
    assert sample(registry, f"{wait_time}_count", pool) == 11
    assert sample(registry, f"{wait_time}_bucket", pool, le="0.1") == 10
    assert sample(registry, f"{wait_time}_bucket", pool, le="1.0") == 11
    assert sample(registry, f"{wait_time}_sum", pool) == pytest.approx(sum(waits), rel=0.05)
    use_count = f"{names.CONNECTION_USE_TIME}_count"
    assert sample(registry, use_count, pool, route="") == 11
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", pool) == 11
    assert sample(registry, names.CONNECTION_MAX, pool) == 10
    assert_at_rest(registry, pool, idle=10)


def test_pymysql_eleven_holders_of_ten_connections(make_sync, registry) -> None:
    engine = make_sync(pool_size=10, max_overflow=0)
    held = [engine.connect() for _ in range(10)]
    for connection in held:
        connection.close()
    instrumentation = instrument(engine, pool="mysql-saturation", registry=registry)
    assert instrumentation.driver == "pymysql"
    holds = Holds()
    start = threading.Barrier(11)

    def hold() -> None:
        start.wait()
        asked = time.perf_counter()
        with engine.connect() as connection:
            got = time.perf_counter()
            connection.execute(text("SELECT SLEEP(:seconds)"), {"seconds": HOLD_SECONDS})
            holds.add(asked, got)

    threads = [threading.Thread(target=hold) for _ in range(11)]
    for thread in threads:
        thread.start()
    seen_waiting = []
    while any(thread.is_alive() for thread in threads):
        if sample(registry, names.CONNECTION_PENDING_REQUESTS, "mysql-saturation") == 1:
            seen_waiting.append(
                sample(registry, names.CONNECTION_COUNT, "mysql-saturation", state="used")
            )
        time.sleep(0.01)
    for thread in threads:
        thread.join()
    assert_eleventh_waited_one_hold(registry, "mysql-saturation", holds, seen_waiting)


async def test_aiomysql_eleven_holders_of_ten_connections(make_async, registry) -> None:
    engine = make_async(pool_size=10, max_overflow=0)
    held = [await engine.connect() for _ in range(10)]
    for connection in held:
        await connection.close()
    instrumentation = instrument(engine, pool="mysql-async-saturation", registry=registry)
    assert instrumentation.driver == "aiomysql"
    holds = Holds()

    async def hold() -> None:
        asked = time.perf_counter()
        async with engine.connect() as connection:
            got = time.perf_counter()
            await connection.execute(text("SELECT SLEEP(:seconds)"), {"seconds": HOLD_SECONDS})
            holds.add(asked, got)

    holders = [asyncio.create_task(hold()) for _ in range(11)]
    seen_waiting = []
    pool = "mysql-async-saturation"
    while not all(task.done() for task in holders):
        if sample(registry, names.CONNECTION_PENDING_REQUESTS, pool) == 1:
            seen_waiting.append(sample(registry, names.CONNECTION_COUNT, pool, state="used"))
        await asyncio.sleep(0.01)
    await asyncio.gather(*holders)
    assert_eleventh_waited_one_hold(registry, pool, holds, seen_waiting)


def assert_one_timeout(raised: pytest.ExceptionInfo[PoolTimeoutError], registry, pool) -> None:
    assert str(raised.value).startswith(
        "QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.30"
    )
    assert sample(registry, f"{names.CONNECTION_TIMEOUTS}_total", pool) == 1
    assert sample(registry, f"{names.CONNECTION_WAIT_TIME}_count", pool) == 2
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", pool) == 1
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, pool) == 0


def test_pymysql_timeout_is_counted_and_reraised_unchanged(make_sync, registry) -> None:
    engine = make_sync(pool_size=1, max_overflow=0, pool_timeout=0.3)
    instrument(engine, pool="mysql-timeouts", registry=registry)
    with engine.connect(), pytest.raises(PoolTimeoutError) as raised:
        engine.connect()
    assert_one_timeout(raised, registry, "mysql-timeouts")
    assert_at_rest(registry, "mysql-timeouts", idle=1)


async def test_aiomysql_timeout_is_counted_and_reraised_unchanged(make_async, registry) -> None:
    engine = make_async(pool_size=1, max_overflow=0, pool_timeout=0.3)
    instrument(engine, pool="mysql-async-timeouts", registry=registry)
    async with engine.connect():
        with pytest.raises(PoolTimeoutError) as raised:
            await engine.connect()
    assert_one_timeout(raised, registry, "mysql-async-timeouts")
    assert_at_rest(registry, "mysql-async-timeouts", idle=1)


def leak_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "poolscope.leaks" and record.levelno == logging.WARNING
    ]


def test_pymysql_leak_names_its_borrower(
    make_sync, registry, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_sync(pool_size=2)
    instrumentation = instrument(engine, pool="mysql-leak", registry=registry, leak_threshold=0.3)
    caplog.set_level(logging.INFO, logger="poolscope")
    forgotten = engine.connect()  # the borrower: this line
    deadline = time.monotonic() + 3
    while not leak_warnings(caplog):
        assert time.monotonic() < deadline, "no leak reported"
        time.sleep(0.02)
    [warning] = leak_warnings(caplog)
    assert "in test_pymysql_leak_names_its_borrower" in warning
    assert "forgotten = engine.connect()" in warning
    [listed] = instrumentation.checked_out()
    assert listed.leaked
    assert "in test_pymysql_leak_names_its_borrower" in listed.borrower
    assert sample(registry, f"{names.POOL_LEAKS}_total", "mysql-leak") == 1
    forgotten.close()
    assert sample(registry, names.POOL_LEAKED_CONNECTIONS, "mysql-leak") == 0
    assert_at_rest(registry, "mysql-leak", idle=1)
    instrumentation.close()


async def test_aiomysql_leak_names_its_borrower(
    make_async, registry, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_async(pool_size=2)
    instrumentation = instrument(
        engine, pool="mysql-async-leak", registry=registry, leak_threshold=0.3
    )
    caplog.set_level(logging.INFO, logger="poolscope")
    forgotten = await engine.connect()  # the borrower: this line
    deadline = time.monotonic() + 3
    while not leak_warnings(caplog):
        assert time.monotonic() < deadline, "no leak reported"
        await asyncio.sleep(0.02)
    [warning] = leak_warnings(caplog)
    assert "in test_aiomysql_leak_names_its_borrower" in warning
    assert "forgotten = await engine.connect()" in warning
    [listed] = instrumentation.checked_out()
    assert "in test_aiomysql_leak_names_its_borrower" in listed.borrower
    assert sample(registry, f"{names.POOL_LEAKS}_total", "mysql-async-leak") == 1
    await forgotten.close()
    assert sample(registry, names.POOL_LEAKED_CONNECTIONS, "mysql-async-leak") == 0
    assert_at_rest(registry, "mysql-async-leak", idle=1)
    instrumentation.close()


def assert_one_replaced_connection(registry: CollectorRegistry, pool: str) -> None:
    invalidations = f"{names.POOL_INVALIDATIONS}_total"
    assert sample(registry, invalidations, pool, soft="false") == 1
    assert sample(registry, invalidations, pool, soft="true") == 0
    assert sample(registry, f"{names.POOL_CONNECTS}_total", pool) == 2
    assert sample(registry, f"{names.CONNECTION_CREATE_TIME}_count", pool) == 2
    assert_at_rest(registry, pool, idle=1)


def test_pymysql_killed_connection_is_replaced_by_the_pre_ping(
    make_sync, registry, mysql_url: str
) -> None:
    engine = make_sync(pool_size=2, max_overflow=0, pool_pre_ping=True)
    instrument(engine, pool="mysql-pre-ping", registry=registry)
    with engine.connect() as connection:
        killed = connection.execute(CONNECTION_ID).scalar_one()
    kill(mysql_url, [killed])
    with engine.connect() as connection:
        assert connection.execute(CONNECTION_ID).scalar_one() != killed
    assert_one_replaced_connection(registry, "mysql-pre-ping")


async def test_aiomysql_killed_connection_is_replaced_by_the_pre_ping(
    make_async, registry, mysql_url: str
) -> None:
    engine = make_async(pool_size=2, max_overflow=0, pool_pre_ping=True)
    instrument(engine, pool="mysql-async-pre-ping", registry=registry)
    async with engine.connect() as connection:
        killed = (await connection.execute(CONNECTION_ID)).scalar_one()
    kill(mysql_url, [killed])
    async with engine.connect() as connection:
        assert (await connection.execute(CONNECTION_ID)).scalar_one() != killed
    assert_one_replaced_connection(registry, "mysql-async-pre-ping")


def test_pymysql_connection_killed_under_a_query_is_an_invalidation(
    make_sync, registry, mysql_url: str
) -> None:
    engine = make_sync(pool_size=2, max_overflow=0)
    instrument(engine, pool="mysql-killed", registry=registry)
    with engine.connect() as connection:
        killed = connection.execute(CONNECTION_ID).scalar_one()
    kill(mysql_url, [killed])
    # No pre-ping: the query meets the dead connection, SQLAlchemy invalidates it.
    with pytest.raises(DBAPIError) as raised, engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert raised.value.connection_invalidated
    with engine.connect() as connection:
        assert connection.execute(CONNECTION_ID).scalar_one() != killed
    assert_one_replaced_connection(registry, "mysql-killed")


async def test_aiomysql_connection_killed_under_a_query_is_an_invalidation(
    make_async, registry, mysql_url: str
) -> None:
    engine = make_async(pool_size=2, max_overflow=0)
    instrument(engine, pool="mysql-async-killed", registry=registry)
    async with engine.connect() as connection:
        killed = (await connection.execute(CONNECTION_ID)).scalar_one()
    kill(mysql_url, [killed])
    with pytest.raises(DBAPIError) as raised:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    assert raised.value.connection_invalidated
    async with engine.connect() as connection:
        assert (await connection.execute(CONNECTION_ID)).scalar_one() != killed
    assert_one_replaced_connection(registry, "mysql-async-killed")
