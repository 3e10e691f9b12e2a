"""instrument() on a sync engine (psycopg2 and psycopg) against the real PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import psycopg2
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import (
    AssertionPool,
    NullPool,
    Pool,
    QueuePool,
    SingletonThreadPool,
    StaticPool,
)

from poolscope import InstrumentedQueuePool, PoolscopeError, instrument
from poolscope import metrics as names
from poolscope._route_context import attribute_routes, current_route
from poolscope._urls import Driver
from tests.support.holds import Holds, assert_the_eleventh_waited_for_a_release
from tests.support.pool_metrics import poolscope_series, sample
from tests.support.waiting import wait_until


def warm(engine: Engine, connections: int) -> None:
    """Open the pool's connections up front, so waits below measure the pool, not connects."""
    held = [engine.connect() for _ in range(connections)]
    for connection in held:
        connection.close()


def test_eleven_holders_of_ten_connections(make_engine, registry: CollectorRegistry) -> None:
    engine = make_engine(pool_size=10, max_overflow=0, pool_logging_name="saturation")
    warm(engine, 10)
    instrument(engine, registry=registry)
    holds = Holds()
    start = threading.Barrier(11)

    def hold() -> None:
        start.wait()
        asked = time.perf_counter()
        with engine.connect() as connection:
            got = time.perf_counter()
            connection.execute(text("SELECT pg_sleep(1)"))
            holds.add(asked, got)

    threads = [threading.Thread(target=hold) for _ in range(11)]
    for thread in threads:
        thread.start()
    seen_waiting = []
    while any(thread.is_alive() for thread in threads):
        pending = sample(registry, names.CONNECTION_PENDING_REQUESTS, "saturation")
        used = sample(registry, names.CONNECTION_COUNT, "saturation", state="used")
        if pending == 1:
            seen_waiting.append(used)
        time.sleep(0.02)
    for thread in threads:
        thread.join()

    assert seen_waiting, "pending_requests never read 1 while the 11th caller waited"
    assert 10 in seen_waiting, seen_waiting
    waits = assert_the_eleventh_waited_for_a_release(holds, hold_seconds=1.0)

    wait_time = names.CONNECTION_WAIT_TIME
    assert sample(registry, f"{wait_time}_count", "saturation") == 11
    assert sample(registry, f"{wait_time}_bucket", "saturation", le="0.1") == 10
    assert sample(registry, f"{wait_time}_bucket", "saturation", le="0.5") == 10
    assert sample(registry, f"{wait_time}_bucket", "saturation", le="2.5") == 11
    measured = sum(waits)
    assert sample(registry, f"{wait_time}_sum", "saturation") == pytest.approx(measured, rel=0.05)
    assert sample(registry, names.CONNECTION_COUNT, "saturation", state="used") == 0
    assert sample(registry, names.CONNECTION_COUNT, "saturation", state="idle") == 10
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "saturation") == 0
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "saturation") == 11
    assert sample(registry, f"{names.CONNECTION_USE_TIME}_count", "saturation", route="") == 11
    assert sample(registry, names.CONNECTION_MAX, "saturation") == 10
    assert sample(registry, names.CONNECTION_IDLE_MAX, "saturation") == 10


def test_timeout_is_counted_and_reraised_unchanged(make_engine, registry) -> None:
    engine = make_engine(pool_size=1, max_overflow=0, pool_timeout=0.5)
    instrument(engine, pool="timeouts", registry=registry)
    with engine.connect(), pytest.raises(PoolTimeoutError) as raised:
        engine.connect()
    assert str(raised.value).startswith(
        "QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.50"
    )
    assert raised.value.code == "3o7r"
    assert sample(registry, f"{names.CONNECTION_TIMEOUTS}_total", "timeouts") == 1
    # The wait that timed out is a wait too; it is not a checkout.
    assert sample(registry, f"{names.CONNECTION_WAIT_TIME}_count", "timeouts") == 2
    assert sample(registry, f"{names.CONNECTION_WAIT_TIME}_bucket", "timeouts", le="0.25") == 1
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "timeouts") == 1
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "timeouts") == 0


def terminate(database_url: str, pids: list[int]) -> None:
    admin = psycopg2.connect(database_url)
    # Each read of pg_stat_activity a fresh snapshot: within a transaction it would not be.
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", (pids,))

            def gone() -> bool:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,))
                row = cursor.fetchone()
                return row is not None and row[0] == 0

            wait_until(gone, timeout=10)
    finally:
        admin.close()


def test_terminated_backend_is_counted_as_invalidation(
    make_engine, registry, database_url: str
) -> None:
    engine = make_engine(pool_size=2, max_overflow=0, pool_pre_ping=True)
    instrument(engine, pool="terminated", registry=registry)
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert sample(registry, names.CONNECTION_COUNT, "terminated", state="idle") == 1

    terminate(database_url, [pid])

    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        assert sample(registry, names.CONNECTION_COUNT, "terminated", state="used") == 1
        assert sample(registry, names.CONNECTION_COUNT, "terminated", state="idle") == 0
    invalidations = f"{names.POOL_INVALIDATIONS}_total"
    assert sample(registry, invalidations, "terminated", soft="false") == 1
    assert sample(registry, invalidations, "terminated", soft="true") == 0
    assert sample(registry, f"{names.POOL_CONNECTS}_total", "terminated") == 2
    assert sample(registry, f"{names.CONNECTION_CREATE_TIME}_count", "terminated") == 2
    assert sample(registry, names.CONNECTION_COUNT, "terminated", state="used") == 0
    assert sample(registry, names.CONNECTION_COUNT, "terminated", state="idle") == 1
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "terminated") == 2


def test_every_connection_a_pool_wide_invalidation_discards_is_counted(
    make_engine, registry, database_url: str
) -> None:
    engine = make_engine(pool_size=5, max_overflow=0)
    instrument(engine, pool="pool-wide", registry=registry)
    held = [engine.connect() for _ in range(5)]
    pids = [connection.execute(text("SELECT pg_backend_pid()")).scalar_one() for connection in held]
    for connection in held:
        connection.close()
    terminate(database_url, pids)
    # The first checkout meets a dead connection: SQLAlchemy invalidates it and marks every
    # connection as old as it stale; the other four are replaced at their next checkout.
    with pytest.raises(DBAPIError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    again = [engine.connect() for _ in range(5)]
    for connection in again:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() not in pids
        connection.close()
    invalidations = f"{names.POOL_INVALIDATIONS}_total"
    assert sample(registry, invalidations, "pool-wide", soft="false") == 5
    assert sample(registry, invalidations, "pool-wide", soft="true") == 0
    # Replacements of connections that were never stale are not counted.
    engine.dispose()
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert sample(registry, invalidations, "pool-wide", soft="false") == 5


def test_close_removes_every_series_and_listener(
    make_engine, registry, sync_driver: Driver
) -> None:
    engine = make_engine(pool_size=2)
    listeners_before = len(engine.pool.dispatch.connect)
    instrumentation = instrument(engine, pool="closing", registry=registry)
    assert instrumentation.driver == sync_driver
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()  # the rebuilt pool is measured and cleaned up too
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "closing") == 2

    instrumentation.close()
    assert poolscope_series(registry) == []
    assert type(engine.pool) is QueuePool
    assert len(engine.pool.dispatch.connect) == listeners_before
    assert not engine.pool.dispatch.invalidate
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert poolscope_series(registry) == []
    instrumentation.close()  # a second close is harmless


def test_instrumenting_twice_is_an_error(make_engine, registry) -> None:
    engine = make_engine()
    with instrument(engine, pool="twice", registry=registry):
        with pytest.raises(PoolscopeError, match="already instrumented"):
            instrument(engine, pool="again", registry=registry)
        with engine.connect():
            pass
        assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "twice") == 1
    # Once closed, the engine may be instrumented again.
    with instrument(engine, pool="again", registry=registry):
        assert sample(registry, names.CONNECTION_COUNT, "again", state="idle") == 1


def test_pools_poolscope_cannot_measure_are_refused_with_the_reason(make_engine, registry) -> None:
    class CountingPool(QueuePool):
        def _do_get(self):  # type: ignore[no-untyped-def]
            return super()._do_get()

    with pytest.raises(PoolscopeError, match="_do_get, which CountingPool overrides"):
        instrument(make_engine(poolclass=CountingPool), registry=registry)
    assert poolscope_series(registry) == []


@pytest.mark.parametrize(
    ("pool_class", "reason"),
    [
        (NullPool, "opens and closes a connection per checkout"),
        (StaticPool, "the same single connection"),
        (SingletonThreadPool, "one connection per thread"),
        (AssertionPool, "one checkout at a time"),
    ],
)
def test_pool_classes_without_a_queue_get_one_error_naming_what_is_supported(
    make_engine, registry, pool_class: type[Pool], reason: str
) -> None:
    engine = make_engine(poolclass=pool_class)
    listeners = len(engine.pool.dispatch.connect)
    with pytest.raises(PoolscopeError) as raised:
        instrument(engine, registry=registry)
    message = str(raised.value)
    assert message.startswith(
        "poolscope measures QueuePool and AsyncAdaptedQueuePool (the default pools of "
        f"create_engine() and create_async_engine()) and their subclasses; this engine uses "
        f"{pool_class.__name__}, which "
    )
    assert reason in message
    assert "poolclass=poolscope.InstrumentedQueuePool" in message
    # Refused before anything is attached: the engine works as before, nothing exported.
    assert type(engine.pool) is pool_class
    assert len(engine.pool.dispatch.connect) == listeners
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    assert poolscope_series(registry) == []


def test_reinstrumented_engine_measures_its_use_time_under_the_new_name(
    make_engine, registry
) -> None:
    engine = make_engine(pool_size=1)
    with instrument(engine, pool="before", registry=registry), engine.connect():
        pass
    with instrument(engine, pool="after", registry=registry):
        with engine.connect():
            pass
        use_count = f"{names.CONNECTION_USE_TIME}_count"
        assert sample(registry, use_count, "after", route="") == 1
        assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "after") == 1


def test_poolclass_route_and_use_time_per_route(make_engine, registry) -> None:
    engine = make_engine(poolclass=InstrumentedQueuePool, pool_size=2)
    with engine.connect():
        pass  # not measured yet: behaves as a QueuePool
    instrument(engine, pool="routes", registry=registry)
    attribute_routes()  # what the route middleware does
    token = current_route.set("/items")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        current_route.reset(token)
    with engine.connect():
        pass
    use_count = f"{names.CONNECTION_USE_TIME}_count"
    assert sample(registry, use_count, "routes", route="/items") == 1
    assert sample(registry, use_count, "routes", route="") == 1
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "routes") == 2


def test_overflow_gauge(make_engine, registry) -> None:
    engine = make_engine(pool_size=1, max_overflow=2)
    instrument(engine, pool="overflow", registry=registry)
    held = [engine.connect() for _ in range(3)]
    assert sample(registry, names.POOL_OVERFLOW, "overflow") == 2
    assert sample(registry, names.CONNECTION_COUNT, "overflow", state="used") == 3
    assert sample(registry, names.CONNECTION_MAX, "overflow") == 3
    for connection in held:
        connection.close()
    assert sample(registry, names.POOL_OVERFLOW, "overflow") == 0
    assert sample(registry, names.CONNECTION_COUNT, "overflow", state="idle") == 1


def test_failure_inside_poolscope_never_reaches_the_caller(
    make_engine, registry, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(pool_size=1)
    instrumentation = instrument(engine, pool="broken", registry=registry)

    class BrokenList(list):  # type: ignore[type-arg]
        def append(self, *args: object) -> None:
            raise RuntimeError("bug in poolscope's bookkeeping")

    # The connection the pool opens gets a broken list for its use times: its checkin
    # fails. Then every checkout of it (idle, so counted as no wait) fails too, before it
    # is stamped, so its checkin has nothing to record.
    instrumentation.probe.uses_for = lambda route: BrokenList()
    with caplog.at_level(logging.ERROR, logger="poolscope"):
        warm(engine, 1)
        instrumentation.probe.waits = BrokenList()
        for _ in range(2):
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
    assert sample(registry, f"{names.INSTRUMENTATION_ERRORS}_total", "broken") == 1 + 2
    assert len([r for r in caplog.records if r.name.startswith("poolscope")]) == 1
    assert engine.pool.checkedout() == 0


def test_failure_recording_the_borrower_never_reaches_the_caller(make_engine, registry) -> None:
    engine = make_engine(pool_size=1)
    instrumentation = instrument(
        engine, pool="broken-stack", registry=registry, leak_threshold=60, stack_capture="site"
    )

    def broken(*args: object) -> None:
        raise RuntimeError("bug in the stack capture")

    instrumentation.probe.checkout_hook = broken
    for _ in range(3):
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    assert sample(registry, f"{names.INSTRUMENTATION_ERRORS}_total", "broken-stack") == 3
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "broken-stack") == 3
    instrumentation.close()


def test_pools_created_and_engine_per_request_warning(
    make_engine, registry, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"per-request-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.WARNING, logger="poolscope"):
        for _ in range(7):
            engine = make_engine(pool_size=1)
            with instrument(engine, pool=name, registry=registry), engine.connect():
                pass
            engine.dispose()
        last = instrument(make_engine(pool_size=1), pool=name, registry=registry)
    assert sample(registry, f"{names.POOLS_CREATED}_total", name) == 8
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", name) == 7
    warnings = [r for r in caplog.records if name in r.getMessage()]
    assert len(warnings) == 1
    assert "engine" in warnings[0].getMessage()
    last.close()


def test_create_time_measures_the_connect_not_the_dialect_setup(make_engine, registry) -> None:
    engine = make_engine(pool_size=3)
    slow_setup = 0.3

    @event.listens_for(engine, "connect")
    def slow_on_connect(dbapi_connection: object, connection_record: object) -> None:
        time.sleep(slow_setup)

    instrument(engine, pool="create", registry=registry)
    with engine.connect(), engine.connect():
        pass
    create = names.CONNECTION_CREATE_TIME
    assert sample(registry, f"{create}_count", "create") == 2
    assert sample(registry, f"{create}_sum", "create") < 2 * slow_setup


def test_every_checkout_counts_once_under_the_overflow_race(make_engine, registry) -> None:
    # More threads than pool_size + max_overflow: checkouts race for overflow slots (where
    # QueuePool._do_get calls itself) and wait for returns; each must count exactly once.
    engine = make_engine(pool_size=2, max_overflow=3, pool_timeout=30)
    instrument(engine, pool="race", registry=registry)
    threads, rounds = 8, 25
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(rounds):
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = threads * rounds
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "race") == total
    assert sample(registry, f"{names.CONNECTION_WAIT_TIME}_count", "race") == total
    assert sample(registry, f"{names.CONNECTION_USE_TIME}_count", "race", route="") == total
    assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "race") == 0
    assert sample(registry, names.CONNECTION_COUNT, "race", state="used") == 0
