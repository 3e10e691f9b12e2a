"""Time in statements per checkout, against the real PostgreSQL on every driver: what a
hold spent in statements, and what it held idle, agree with the test's own clock."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session

from poolscope import instrument
from poolscope import metrics as names
from poolscope._holds import split_holds
from poolscope._route_context import attribute_routes, current_route
from poolscope._urls import url_for_driver
from tests.support.pool_metrics import sample

HOLD = 1.0
SLEEP = 0.2


def within(measured: float | None, truth: float, share: float = 0.10) -> bool:
    return measured is not None and abs(measured - truth) <= share * truth


class Clock:
    """The test's own clock: around the whole hold, and around each statement call (which
    includes SQLAlchemy's own work before and after the driver's, a few hundred µs)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.in_statements = 0.0
        self.held = 0.0

    @contextmanager
    def statement(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.in_statements += time.perf_counter() - started

    def stop(self) -> None:
        self.held = time.perf_counter() - self.started


def assert_split(registry: CollectorRegistry, pool: str, clock: Clock, route: str = "") -> None:
    """One hold with one SLEEP-second statement and one quick one, as ``clock`` saw it."""
    held = clock.held
    in_statements = sample(registry, f"{names.POOL_STATEMENT_TIME}_total", pool, route=route)
    statements = sample(registry, f"{names.POOL_STATEMENTS}_total", pool, route=route)
    idle_max = sample(registry, names.POOL_IDLE_TIME_MAX, pool, route=route)
    use_sum = sample(registry, f"{names.CONNECTION_USE_TIME}_sum", pool, route=route)
    idle_sum = sample(registry, f"{names.POOL_IDLE_TIME}_sum", pool)
    assert statements == 2
    assert within(in_statements, clock.in_statements), (in_statements, clock.in_statements)
    assert within(use_sum, held), (use_sum, held)
    assert within(idle_max, held - clock.in_statements), (idle_max, held)
    assert idle_sum == idle_max
    assert in_statements is not None
    assert use_sum is not None
    assert idle_max is not None
    # Held = in statements + held idle, exactly: the same clock readings.
    assert in_statements + idle_max == pytest.approx(use_sum)


def test_sync_hold_splits_into_statements_and_idle(
    sync_engine: Engine, registry: CollectorRegistry
) -> None:
    with sync_engine.connect():
        pass  # the connection opened up front: its connect is no part of a hold
    instrument(sync_engine, pool="split", registry=registry)
    with Session(sync_engine) as session:
        clock = Clock()
        with clock.statement():
            session.execute(text("select pg_sleep(:s)"), {"s": SLEEP})
        with clock.statement():
            session.execute(text("select 1"))
        time.sleep(HOLD - SLEEP)  # the outside call, connection still held
        session.rollback()
        clock.stop()
    assert_split(registry, "split", clock)


async def test_async_hold_splits_into_statements_and_idle(
    async_engine: AsyncEngine, registry: CollectorRegistry
) -> None:
    async with async_engine.connect():
        pass
    instrument(async_engine, pool="split", registry=registry)
    clock = Clock()
    async with async_engine.connect() as connection:
        with clock.statement():
            await connection.execute(text("select pg_sleep(:s)"), {"s": SLEEP})
        with clock.statement():
            await connection.exec_driver_sql("select 1")
        await asyncio.sleep(HOLD - SLEEP)
    clock.stop()
    assert_split(registry, "split", clock)


def test_executemany_and_statements_without_parameters_count(
    sync_engine: Engine, registry: CollectorRegistry
) -> None:
    instrumentation = instrument(sync_engine, pool="kinds", registry=registry)
    attribute_routes()  # what the route middleware does
    token = current_route.set("POST /kinds")
    try:
        with sync_engine.connect() as connection:
            connection.exec_driver_sql(
                "create temporary table kinds (x int)",
                execution_options={"no_parameters": True},
            )
            connection.execute(text("insert into kinds values (:x)"), [{"x": 1}, {"x": 2}])
            connection.commit()
    finally:
        current_route.reset(token)
    statements = sample(registry, f"{names.POOL_STATEMENTS}_total", "kinds", route="POST /kinds")
    # No parameters, executemany, and the commit (a round trip too).
    assert statements == 3
    instrumentation.close()
    for method in ("do_execute", "do_executemany", "do_execute_no_params", "do_commit"):
        assert method not in vars(sync_engine.dialect)


def test_a_connection_in_a_statement_says_so_while_it_runs(
    sync_engine: Engine, registry: CollectorRegistry
) -> None:
    instrumentation = instrument(sync_engine, pool="now", registry=registry)
    with sync_engine.connect() as connection:
        connection.execute(text("select 1"))
        (before,) = instrumentation.checked_out()
        assert not before.in_statement
        assert before.statements == 1
        assert before.idle_seconds < before.age_seconds

        seen = []

        def watch() -> None:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                (now,) = instrumentation.checked_out()
                if now.in_statement:
                    seen.append(now)
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        connection.execute(text("select pg_sleep(0.5)"))
        watcher.join()
        assert seen
        assert seen[0].idle_seconds == 0.0
    assert instrumentation.checked_out() == []


def test_a_drain_splits_holds_into_use_idle_and_statements() -> None:
    # A checkin records a bare float without statements, else (held, in statements, n).
    split = split_holds([1.0, (2.0, 0.5, 3), 0.25, (1.0, 1.0000001, 1)])
    assert sorted(split.held) == [0.25, 1.0, 1.0, 2.0]
    assert sorted(split.idle) == [0.0, 0.25, 1.0, 1.5]  # never below 0
    assert split.statement_seconds == pytest.approx(1.5000001)
    assert split.statements == 4
    plain = split_holds([0.5, 0.75])
    assert (plain.held, plain.idle, plain.statement_seconds, plain.statements) == (
        [0.5, 0.75],
        [0.5, 0.75],
        0.0,
        0,
    )


async def test_mysql_holds_split_too(mysql_url: str, registry: CollectorRegistry) -> None:
    # pymysql on a sync Engine, then aiomysql on an AsyncEngine, against the real MariaDB.
    sync = create_engine(url_for_driver(mysql_url, "pymysql"))
    instrument(sync, pool="pymysql", registry=registry)
    try:
        clock = Clock()
        with sync.connect() as connection:
            with clock.statement():
                connection.execute(text("select sleep(:s)"), {"s": SLEEP})
            with clock.statement():
                connection.exec_driver_sql("select 1")
            time.sleep(HOLD - SLEEP)
        clock.stop()
        assert_split(registry, "pymysql", clock)
    finally:
        sync.dispose()
    engine = create_async_engine(url_for_driver(mysql_url, "aiomysql"))
    instrument(engine, pool="aiomysql", registry=registry)
    try:
        clock = Clock()
        async with engine.connect() as connection:
            with clock.statement():
                await connection.execute(text("select sleep(:s)"), {"s": SLEEP})
            with clock.statement():
                await connection.exec_driver_sql("select 1")
            await asyncio.sleep(HOLD - SLEEP)
        clock.stop()
        assert_split(registry, "aiomysql", clock)
    finally:
        await engine.dispose()
