"""Leak reports name the route and the borrower's stack; returns and gc are seen too."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy
from fastapi import Depends, FastAPI, Request
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

import poolscope
from poolscope import metrics as _names
from poolscope._urls import Driver
from poolscope.fastapi import instrument_app

POOL = "leaky"
# No frame of SQLAlchemy's is ever the borrower (the word may be in a virtualenv's path).
SQLALCHEMY_DIR = os.path.join(os.path.dirname(sqlalchemy.__file__), "")


def leaks_of(registry: CollectorRegistry) -> tuple[float | None, float | None]:
    labels = {_names.POOL_LABEL: POOL}
    return (
        registry.get_sample_value(f"{_names.POOL_LEAKS}_total", labels),
        registry.get_sample_value(_names.POOL_LEAKED_CONNECTIONS, labels),
    )


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "poolscope.leaks" and record.levelno == logging.WARNING
    ]


async def wait_for(condition: Any, timeout: float) -> float:
    """Seconds until ``condition()`` held; fails past ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def leaky_sync_app(engine: Engine, kept: list[Session]) -> FastAPI:
    app = FastAPI()
    instrument_app(app)

    @app.get("/orders/{order_id}/leak")
    def leaky_sync_route(order_id: int) -> dict[str, int]:
        session = Session(engine)
        kept.append(session)
        return {"one": session.execute(text("SELECT 1")).scalar_one()}

    return app


def leaky_async_app(engine: AsyncEngine, kept: list[AsyncSession]) -> FastAPI:
    app = FastAPI()
    instrument_app(app)

    @app.get("/orders/{order_id}/leak")
    async def leaky_async_route(order_id: int) -> dict[str, int]:
        session = AsyncSession(engine)
        kept.append(session)
        return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(path)
    response.raise_for_status()
    return response


@pytest.fixture
def sync_instrumentation(
    sync_engine: Engine, registry: CollectorRegistry
) -> Iterator[poolscope.Instrumentation]:
    instrumentation = poolscope.instrument(
        sync_engine, pool=POOL, registry=registry, leak_threshold=0.5
    )
    yield instrumentation
    instrumentation.close()


@pytest.fixture
async def async_instrumentation(
    async_engine: AsyncEngine, registry: CollectorRegistry
) -> AsyncIterator[poolscope.Instrumentation]:
    instrumentation = poolscope.instrument(
        async_engine, pool=POOL, registry=registry, leak_threshold=0.5
    )
    yield instrumentation
    instrumentation.close()


async def assert_one_leak_report(
    caplog: pytest.LogCaptureFixture, registry: CollectorRegistry, route_function: str
) -> None:
    await wait_for(lambda: warnings_in(caplog), timeout=2.0)
    await asyncio.sleep(0.3)  # a second report would come within a scan or two
    [warning] = warnings_in(caplog)
    message = warning.getMessage()
    assert "'/orders/{order_id}/leak'" in message
    assert 'test_leaks.py", line ' in message
    assert f"in {route_function}" in message
    # One SELECT 1, then kept idle: the report says so.
    idle = re.search(r"held \d+\.\d s, \d+ ms in 1 statement, idle (\d+\.\d) s", message)
    assert idle is not None, message
    assert float(idle.group(1)) >= 0.4
    assert SQLALCHEMY_DIR not in message
    assert '"<string>"' not in message
    assert leaks_of(registry) == (1.0, 1.0)


def returned_infos(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("poolscope.")
        and record.levelno == logging.INFO
        and "returned after" in record.getMessage()
    ]


async def leak_a_sync_session(
    engine: Engine, caplog: pytest.LogCaptureFixture, registry: CollectorRegistry
) -> Session:
    """The session a request leaked, once its leak is reported."""
    caplog.set_level(logging.INFO, logger="poolscope")
    kept: list[Session] = []
    await get(leaky_sync_app(engine, kept), "/orders/42/leak")
    await assert_one_leak_report(caplog, registry, "leaky_sync_route")
    return kept.pop()


async def test_sync_leak_is_reported_with_route_and_stack_then_its_return(
    sync_engine: Engine,
    sync_instrumentation: poolscope.Instrumentation,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    leaked = await leak_a_sync_session(sync_engine, caplog, registry)
    [listed] = sync_instrumentation.checked_out()
    assert listed.route == "/orders/{order_id}/leak"
    assert listed.leaked
    assert "in leaky_sync_route" in listed.borrower

    leaked.close()
    assert leaks_of(registry) == (1.0, 0.0)
    await wait_for(lambda: returned_infos(caplog), timeout=1.5)
    [info] = returned_infos(caplog)
    assert "'/orders/{order_id}/leak'" in info
    assert leaks_of(registry) == (1.0, 0.0)
    assert sync_instrumentation.checked_out() == []


async def test_a_reported_connection_borrowed_again_at_once_is_a_new_checkout(
    sync_engine: Engine,
    sync_instrumentation: poolscope.Instrumentation,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    leaked = await leak_a_sync_session(sync_engine, caplog, registry)
    leaked.close()
    # The pool's only connection, out again before the leak check looks.
    with sync_engine.connect():
        [listed] = sync_instrumentation.checked_out()
        assert (listed.leaked, listed.route) == (False, "")
        await wait_for(lambda: returned_infos(caplog), timeout=1.5)
        assert leaks_of(registry) == (1.0, 0.0)
    assert len(warnings_in(caplog)) == 1


async def test_async_leak_is_reported_with_route_and_stack_then_its_return(
    async_engine: AsyncEngine,
    async_instrumentation: poolscope.Instrumentation,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="poolscope")
    kept: list[AsyncSession] = []
    await get(leaky_async_app(async_engine, kept), "/orders/7/leak")

    await assert_one_leak_report(caplog, registry, "leaky_async_route")
    [listed] = async_instrumentation.checked_out()
    assert "in leaky_async_route" in listed.borrower
    await kept.pop().close()
    assert leaks_of(registry) == (1.0, 0.0)
    await wait_for(lambda: returned_infos(caplog), timeout=1.5)
    [info] = returned_infos(caplog)
    assert "'/orders/{order_id}/leak'" in info
    assert leaks_of(registry) == (1.0, 0.0)


def get_sync_db(request: Request) -> Iterator[Session]:
    session = Session(request.app.state.engine)
    try:
        yield session
    finally:
        session.close()


async def get_async_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(request.app.state.engine) as session:
        yield session


SyncDb = Annotated[Session, Depends(get_sync_db)]
AsyncDb = Annotated[AsyncSession, Depends(get_async_db)]


def app_on(engine: Engine | AsyncEngine) -> FastAPI:
    """An app whose dependencies open sessions on ``engine``, its checkouts attributed."""
    app = FastAPI()
    app.state.engine = engine
    instrument_app(app)
    return app


def well_behaved_sync_app(engine: Engine) -> FastAPI:
    app = app_on(engine)

    @app.get("/items/{item_id}")
    def read_item(item_id: int, db: SyncDb) -> dict[str, int]:
        return {"id": db.execute(text("SELECT :id"), {"id": item_id}).scalar_one()}

    return app


def well_behaved_async_app(engine: AsyncEngine) -> FastAPI:
    app = app_on(engine)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, db: AsyncDb) -> dict[str, int]:
        result = await db.execute(text("SELECT CAST(:id AS int)"), {"id": item_id})
        return {"id": result.scalar_one()}

    return app


async def assert_no_leak_after_a_thousand_requests(
    engine: Engine | AsyncEngine,
    app: FastAPI,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="poolscope")
    instrumentation = poolscope.instrument(engine, pool=POOL, registry=registry, leak_threshold=1.0)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for item_id in range(1000):
                response = await client.get(f"/items/{item_id}")
                assert response.json() == {"id": item_id}
        # A leak is reported by 1.25 x the threshold: a forgotten checkout would show now.
        await asyncio.sleep(1.4)
        assert warnings_in(caplog) == []
        assert leaks_of(registry) == (0.0, 0.0)
        assert instrumentation.checked_out() == []
    finally:
        instrumentation.close()


async def test_a_thousand_well_behaved_sync_requests_report_no_leak(
    sync_engine: Engine, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    app = well_behaved_sync_app(sync_engine)
    await assert_no_leak_after_a_thousand_requests(sync_engine, app, registry, caplog)


async def test_a_thousand_well_behaved_async_requests_report_no_leak(
    async_engine: AsyncEngine, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    app = well_behaved_async_app(async_engine)
    await assert_no_leak_after_a_thousand_requests(async_engine, app, registry, caplog)


def slow_sync_app(engine: Engine) -> FastAPI:
    app = app_on(engine)

    @app.get("/orders/{order_id}/leak")
    def slow_sync_route(order_id: int, db: SyncDb) -> dict[str, int]:
        one = db.execute(text("SELECT 1")).scalar_one()
        time.sleep(HELD_PAST_THRESHOLD)
        return {"one": one}

    return app


def slow_async_app(engine: AsyncEngine) -> FastAPI:
    app = app_on(engine)

    @app.get("/orders/{order_id}/leak")
    async def slow_async_route(order_id: int, db: AsyncDb) -> dict[str, int]:
        one = (await db.execute(text("SELECT 1"))).scalar_one()
        await asyncio.sleep(HELD_PAST_THRESHOLD)
        return {"one": one}

    return app


# Past the fixtures' 0.5 s threshold and the check that follows it, with room for load.
HELD_PAST_THRESHOLD = 2.5


async def assert_depends_session_held_too_long_names_the_route_line(
    app: FastAPI,
    instrumentation: poolscope.Instrumentation,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
    route_function: str,
) -> None:
    """A session from a FastAPI dependency, held past the threshold by a slow endpoint: the
    report and checked_out() name the endpoint's line, not FastAPI's or SQLAlchemy's."""
    request = asyncio.create_task(get(app, "/orders/3/leak"))
    await wait_for(lambda: any(entry.leaked for entry in instrumentation.checked_out()), 1.8)
    [listed] = instrumentation.checked_out()
    assert listed.route == "/orders/{order_id}/leak"
    assert 'test_leaks.py", line ' in listed.borrower
    assert f"in {route_function}" in listed.borrower
    await assert_one_leak_report(caplog, registry, route_function)
    await request
    assert leaks_of(registry) == (1.0, 0.0)


async def test_sync_depends_session_held_too_long_is_named_by_its_endpoint(
    sync_engine: Engine,
    sync_instrumentation: poolscope.Instrumentation,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await assert_depends_session_held_too_long_names_the_route_line(
        slow_sync_app(sync_engine), sync_instrumentation, registry, caplog, "slow_sync_route"
    )


async def test_async_depends_session_held_too_long_is_named_by_its_endpoint(
    async_engine: AsyncEngine,
    async_instrumentation: poolscope.Instrumentation,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await assert_depends_session_held_too_long_names_the_route_line(
        slow_async_app(async_engine), async_instrumentation, registry, caplog, "slow_async_route"
    )


def gc_reclaimed(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value(f"{_names.POOL_GC_RECLAIMED}_total", {_names.POOL_LABEL: POOL})


def forget_a_sync_connection(engine: Engine) -> None:
    connection = engine.connect()
    connection.execute(text("SELECT 1"))


async def forget_an_async_connection(engine: AsyncEngine) -> None:
    connection = await engine.connect()
    await connection.execute(text("SELECT 1"))


@pytest.mark.parametrize(
    ("leak_threshold", "borrower"),
    [(None, "(not recorded"), (60.0, "in forget_a_sync_connection\n")],
)
def test_sync_connection_forgotten_and_collected_counts_as_gc_reclaimed(
    leak_threshold: float | None,
    borrower: str,
    sync_engine: Engine,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Counted without leak detection; with it, the log names who forgot the connection.
    instrumentation = poolscope.instrument(
        sync_engine, pool=POOL, registry=registry, leak_threshold=leak_threshold
    )
    try:
        with sync_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert gc_reclaimed(registry) == 0.0

        forget_a_sync_connection(sync_engine)
        gc.collect()
        assert gc_reclaimed(registry) == 1.0
        [warning] = warnings_in(caplog)
        assert "garbage collector returned it to the pool" in warning.getMessage()
        assert borrower in warning.getMessage().split("Borrowed at:")[1]
        assert instrumentation.checked_out() == []
        assert sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        instrumentation.close()


async def test_async_connection_forgotten_and_collected_counts_as_gc_reclaimed(
    async_engine: AsyncEngine,
    async_driver: Driver,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A threshold the test never reaches, as in the sync test: the one warning must be the
    # collector's, not a leak report a slow machine lets come first.
    instrumentation = poolscope.instrument(
        async_engine, pool=POOL, registry=registry, leak_threshold=60.0
    )
    try:
        async with async_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        assert gc_reclaimed(registry) == 0.0

        await forget_an_async_connection(async_engine)
        with contextlib.ExitStack() as expected:
            expected.enter_context(pytest.warns(SAWarning, match="garbage collector"))
            if async_driver == "psycopg_async":
                # SQLAlchemy cannot terminate a psycopg connection outside the event loop:
                # it lets go of it unclosed, and psycopg says so.
                expected.enter_context(pytest.warns(ResourceWarning, match="still open"))
            gc.collect()
        assert gc_reclaimed(registry) == 1.0
        [warning] = warnings_in(caplog)
        message = warning.getMessage()
        assert "garbage collector discarded it (an async pool cannot take it back)" in message
        assert "in forget_an_async_connection" in message
        assert instrumentation.checked_out() == []
    finally:
        instrumentation.close()


def hold_from_inner(engine: Engine, held: list[Any]) -> None:
    connection = engine.connect()
    connection.execute(text("SELECT 1"))
    held.append(connection)


def hold_from_outer(engine: Engine, held: list[Any]) -> None:
    hold_from_inner(engine, held)


@pytest.mark.parametrize(
    ("stack_capture", "present", "absent"),
    [
        ("off", ["not recorded"], ["in hold_from_inner"]),
        ("site", ["in hold_from_inner"], ["in hold_from_outer"]),
        ("full", ["in hold_from_inner", "in hold_from_outer", "in test_stack_capture"], []),
    ],
)
async def test_stack_capture_modes_record_what_they_say(
    stack_capture: Any,
    present: list[str],
    absent: list[str],
    sync_engine: Engine,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    instrumentation = poolscope.instrument(
        sync_engine,
        pool=POOL,
        registry=registry,
        leak_threshold=0.2,
        stack_capture=stack_capture,
    )
    held: list[Any] = []
    try:
        hold_from_outer(sync_engine, held)
        await wait_for(lambda: warnings_in(caplog), timeout=2.0)
        [warning] = warnings_in(caplog)
        message = warning.getMessage()
        for text_ in present:
            assert text_ in message
        for text_ in absent:
            assert text_ not in message
        borrowed_at = message.split("Borrowed at:")[1]
        assert SQLALCHEMY_DIR not in borrowed_at
        assert '"<' not in borrowed_at  # generated code: '<string>' on SQLAlchemy 2.0
    finally:
        for connection in held:
            connection.close()
        instrumentation.close()


def test_unknown_stack_capture_is_a_user_error(sync_engine: Engine) -> None:
    with pytest.raises(poolscope.PoolscopeError, match="stack_capture must be one of"):
        poolscope.instrument(sync_engine, registry=CollectorRegistry(), stack_capture="all")  # type: ignore[arg-type]
