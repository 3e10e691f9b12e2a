"""instrument() on an AsyncEngine (asyncpg and psycopg_async) against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool

from poolscope import InstrumentedAsyncAdaptedQueuePool, PoolscopeError, instrument
from poolscope import metrics as names
from poolscope._urls import Driver
from tests.support.holds import Holds, assert_the_eleventh_waited_for_a_release
from tests.support.pool_metrics import sample

MakeEngine = Callable[..., AsyncEngine]


async def warm(engine: AsyncEngine, connections: int) -> None:
    held = [await engine.connect() for _ in range(connections)]
    for connection in held:
        await connection.close()


async def test_eleven_holders_of_ten_connections(make_async_engine: MakeEngine, registry) -> None:
    engine = make_async_engine(pool_size=10, max_overflow=0)
    await warm(engine, 10)
    instrument(engine, pool="async-saturation", registry=registry)
    holds = Holds()

    async def hold() -> None:
        asked = time.perf_counter()
        async with engine.connect() as connection:
            got = time.perf_counter()
            await connection.execute(text("SELECT pg_sleep(1)"))
            holds.add(asked, got)

    holders = [asyncio.create_task(hold()) for _ in range(11)]
    seen_waiting = []
    while not all(task.done() for task in holders):
        pending = sample(registry, names.CONNECTION_PENDING_REQUESTS, "async-saturation")
        used = sample(registry, names.CONNECTION_COUNT, "async-saturation", state="used")
        if pending == 1:
            seen_waiting.append(used)
        await asyncio.sleep(0.02)
    await asyncio.gather(*holders)

    assert 10 in seen_waiting, seen_waiting
    waits = assert_the_eleventh_waited_for_a_release(holds, hold_seconds=1.0)
    wait_time = names.CONNECTION_WAIT_TIME
    assert sample(registry, f"{wait_time}_count", "async-saturation") == 11
    assert sample(registry, f"{wait_time}_bucket", "async-saturation", le="0.1") == 10
    assert sample(registry, f"{wait_time}_bucket", "async-saturation", le="0.5") == 10
    assert sample(registry, f"{wait_time}_sum", "async-saturation") == pytest.approx(
        sum(waits), rel=0.05
    )
    assert sample(registry, names.CONNECTION_COUNT, "async-saturation", state="used") == 0
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "async-saturation") == 0


async def test_timeout_is_counted_and_reraised_unchanged(
    make_async_engine: MakeEngine, registry
) -> None:
    engine = make_async_engine(pool_size=1, max_overflow=0, pool_timeout=0.5)
    instrument(engine, pool="async-timeouts", registry=registry)
    async with engine.connect():
        with pytest.raises(PoolTimeoutError) as raised:
            await engine.connect()
    assert str(raised.value).startswith(
        "QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.50"
    )
    assert raised.value.code == "3o7r"
    assert sample(registry, f"{names.CONNECTION_TIMEOUTS}_total", "async-timeouts") == 1
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "async-timeouts") == 0


async def test_cancelled_tasks_leave_true_gauges(make_async_engine: MakeEngine, registry) -> None:
    engine = make_async_engine(pool_size=1, max_overflow=0)
    instrument(engine, pool="cancel", registry=registry)
    holding = asyncio.Event()

    async def hold() -> None:
        async with engine.connect() as connection:
            holding.set()
            await connection.execute(text("SELECT pg_sleep(30)"))

    async def wait_for_connection() -> None:
        async with engine.connect():
            pass

    holder = asyncio.create_task(hold())
    await holding.wait()
    waiter = asyncio.create_task(wait_for_connection())
    for _ in range(100):
        if sample(registry, names.CONNECTION_PENDING_REQUESTS, "cancel") == 1:
            break
        await asyncio.sleep(0.01)
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "cancel") == 1
    assert sample(registry, names.CONNECTION_COUNT, "cancel", state="used") == 1

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "cancel") == 0
    assert sample(registry, names.CONNECTION_COUNT, "cancel", state="used") == 1

    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    pool = engine.sync_engine.pool
    assert sample(registry, names.CONNECTION_COUNT, "cancel", state="used") == pool.checkedout()
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "cancel") == 0
    # The pool works on, and what it reports is what it holds.
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        assert sample(registry, names.CONNECTION_COUNT, "cancel", state="used") == 1
    assert sample(registry, names.CONNECTION_COUNT, "cancel", state="used") == 0
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "cancel") == 0


async def test_dispose_keeps_measuring_and_close_restores(
    make_async_engine: MakeEngine, registry, async_driver: Driver
) -> None:
    engine = make_async_engine(poolclass=InstrumentedAsyncAdaptedQueuePool, pool_size=2)
    instrumentation = instrument(engine, pool="async-dispose", registry=registry)
    assert instrumentation.driver == async_driver  # as the URL names it
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    await engine.dispose()
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "async-dispose") == 2
    assert sample(registry, f"{names.POOL_CONNECTS}_total", "async-dispose") == 2
    assert instrumentation.state().idle == 1
    instrumentation.close()
    assert type(engine.sync_engine.pool) is InstrumentedAsyncAdaptedQueuePool
    assert isinstance(engine.sync_engine.pool, AsyncAdaptedQueuePool)
    async with engine.connect():
        pass
    assert list(registry.collect()) == []


async def test_async_null_pool_gets_the_error_naming_what_is_supported(
    make_async_engine: MakeEngine, registry
) -> None:
    engine = make_async_engine(poolclass=NullPool)
    with pytest.raises(PoolscopeError, match=r"this engine uses NullPool, which opens and"):
        instrument(engine, registry=registry)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    assert list(registry.collect()) == []
