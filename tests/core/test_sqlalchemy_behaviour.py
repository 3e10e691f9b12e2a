"""poolscope's pools behave as SQLAlchemy's own: logging, dispose(), subclasses, counts.

SQLAlchemy's own pool tests run against poolscope's classes too
(tests/core/test_sqlalchemy_suite.py); these are the cases they do not see.
"""

from __future__ import annotations

import gc
import logging
import time
import weakref
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy.pool
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool

from poolscope import InstrumentedQueuePool, instrument
from poolscope import metrics as names
from poolscope._pool import MEASURING_CLASSES
from poolscope._urls import url_for_driver
from tests.support.pool_metrics import sample

MakeEngine = Callable[..., Engine]


@pytest.fixture
def make_engine(database_url: str) -> Iterator[MakeEngine]:
    engines: list[Engine] = []

    def make(**kwargs: object) -> Engine:
        engine = create_engine(url_for_driver(database_url, "psycopg2"), **kwargs)  # type: ignore[arg-type]
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def connect_dispose_connect(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def seen(self) -> list[tuple[str, str, str]]:
        """Logger, level and message template: the connections' addresses differ."""
        return [(r.name, r.levelname, str(r.msg)) for r in self.records]


def pool_records_of(
    make_engine: MakeEngine, registry: CollectorRegistry, how: str, **engine_args: object
) -> list[tuple[str, str, str]]:
    handler = Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        if how == "stock":
            connect_dispose_connect(make_engine(**engine_args))
        else:
            # "instrument": on a stock pool, whose dispose() builds one of poolscope's class.
            poolclass = {"poolclass": InstrumentedQueuePool} if how == "poolclass" else {}
            engine = make_engine(**poolclass, **engine_args)
            with instrument(engine, pool=f"logging-{how}", registry=registry):
                connect_dispose_connect(engine)
    finally:
        root.removeHandler(handler)
    return [seen for seen in handler.seen() if "Pool" in seen[0]]


@pytest.fixture
def sqlalchemy_pool_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("sqlalchemy.pool")
    level = logger.level
    yield logger
    logger.setLevel(level)


@pytest.mark.parametrize("how", ["poolclass", "instrument"])
def test_pool_logs_as_sqlalchemys_pool_under_the_sqlalchemy_pool_logger(
    make_engine, registry, sqlalchemy_pool_logger: logging.Logger, how: str
) -> None:
    # How SQLAlchemy documents pool logging.
    sqlalchemy_pool_logger.setLevel(logging.DEBUG)
    stock = pool_records_of(make_engine, registry, "stock")
    assert stock, "a stock QueuePool logged nothing at DEBUG"
    assert {name for name, _, _ in stock} == {"sqlalchemy.pool.impl.QueuePool"}
    assert pool_records_of(make_engine, registry, how) == stock


@pytest.mark.parametrize("how", ["poolclass", "instrument"])
def test_echo_pool_logs_as_sqlalchemys_pool(make_engine, registry, how: str) -> None:
    stock = pool_records_of(make_engine, registry, "stock", echo_pool="debug")
    assert stock, "echo_pool='debug' logged nothing on a stock QueuePool"
    assert pool_records_of(make_engine, registry, how, echo_pool="debug") == stock


@pytest.mark.parametrize("how", ["stock", "poolclass", "instrument"])
def test_a_debug_root_logger_gets_no_pool_records(
    make_engine, registry, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    # SQLAlchemy keeps its loggers at WARNING unless asked: an app logging DEBUG at the root
    # sees no pool chatter from a stock pool, so none from poolscope's either.
    with caplog.at_level(logging.DEBUG):
        assert pool_records_of(make_engine, registry, how) == []


def backend_alive(admin_engine: Engine, pid: int) -> bool:
    with admin_engine.connect() as connection:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        return bool(connection.execute(query, {"pid": pid}).scalar_one())


def test_engine_dispose_lets_the_old_pool_close_its_connections(
    make_engine, registry, admin_engine: Engine
) -> None:
    engine = make_engine(pool_size=2)
    instrumentation = instrument(engine, pool="disposed", registry=registry)
    connection = engine.connect()
    pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    old_pool = weakref.ref(engine.pool)
    engine.dispose()
    # Checked out during dispose(): it goes back to the old pool, which nothing else holds.
    connection.close()
    del connection
    gc.collect()
    assert old_pool() is None, gc.get_referrers(old_pool())
    deadline = time.monotonic() + 10
    while backend_alive(admin_engine, pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not backend_alive(admin_engine, pid)
    # The new pool is measured, and close() still takes everything off.
    with engine.connect():
        pass
    assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "disposed") == 2
    instrumentation.close()
    assert type(engine.pool) is QueuePool
    assert not engine.pool.dispatch.invalidate


def test_pool_dispose_with_connections_out_never_counts_below_zero(make_engine, registry) -> None:
    engine = make_engine(pool_size=2)
    instrumentation = instrument(engine, pool="negative", registry=registry)
    held = engine.connect()
    engine.pool.dispose()  # the pool forgets the connection out; its return counts -1
    held.close()
    assert instrumentation.state().used == 0
    assert instrumentation.state().idle == 1
    assert sample(registry, names.CONNECTION_COUNT, "negative", state="used") == 0
    assert sample(registry, names.CONNECTION_COUNT, "negative", state="idle") == 1


class CallingPool(InstrumentedQueuePool):
    """A user's subclass overriding every method poolscope takes over."""

    calls: list[str]

    def _do_get(self) -> ConnectionPoolEntry:
        self.calls.append("_do_get")
        return super()._do_get()

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self.calls.append("_do_return_conn")
        super()._do_return_conn(record)

    def _return_conn(self, record: ConnectionPoolEntry) -> None:
        self.calls.append("_return_conn")
        super()._return_conn(record)

    def connect(self) -> PoolProxiedConnection:
        self.calls.append("connect")
        return super().connect()


def test_a_subclass_overrides_are_called_measured_or_not(make_engine, registry) -> None:
    engine = make_engine(poolclass=CallingPool, pool_size=1)
    CallingPool.calls = calls = []
    with engine.connect():
        pass
    assert calls == ["connect", "_do_get", "_return_conn", "_do_return_conn"]
    with instrument(engine, pool="subclass", registry=registry):
        calls.clear()
        with engine.connect():
            pass
        # Reused: the idle connection is taken in _do_get as well.
        assert calls == ["connect", "_do_get", "_return_conn", "_do_return_conn"]
        engine.dispose()  # the rebuilt pool keeps the subclass and its overrides
        calls.clear()
        with engine.connect():
            pass
        assert calls == ["connect", "_do_get", "_return_conn", "_do_return_conn"]
        assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "subclass") == 2
        use_count = f"{names.CONNECTION_USE_TIME}_count"
        assert sample(registry, use_count, "subclass", route="") == 2
    assert isinstance(engine.pool, CallingPool)


def test_a_subclass_logs_under_its_own_name_as_on_a_queuepool(make_engine, registry) -> None:
    engine = make_engine(poolclass=CallingPool)
    CallingPool.calls = []
    assert engine.pool.logger.name == f"{__name__}.CallingPool"
    with instrument(engine, registry=registry):
        engine.dispose()
        assert engine.pool.logger.name == f"{__name__}.CallingPool"


SHIPPED_QUEUE_POOLS = sorted(
    (
        value
        for value in vars(sqlalchemy.pool).values()
        if isinstance(value, type) and issubclass(value, QueuePool)
    ),
    key=lambda pool_class: pool_class.__name__,
)


@pytest.mark.parametrize("pool_class", SHIPPED_QUEUE_POOLS, ids=lambda c: c.__name__)
async def test_every_queue_pool_sqlalchemy_ships_has_a_measuring_class(
    database_url: str, registry, pool_class: type[QueuePool]
) -> None:
    # SQLAlchemy 2.0 ships FallbackAsyncAdaptedQueuePool as well; 2.1 does not.
    measuring = MEASURING_CLASSES[pool_class]
    assert issubclass(measuring, pool_class)
    assert measuring(lambda: None).logger.name == pool_class(lambda: None).logger.name
    name = pool_class.__name__
    checkouts = f"{names.POOL_CHECKOUTS}_total"
    if pool_class._is_asyncio:
        async_engine = create_async_engine(
            url_for_driver(database_url, "asyncpg"), poolclass=measuring
        )
        try:
            with instrument(async_engine, pool=name, registry=registry):
                async with async_engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                assert sample(registry, checkouts, name) == 1
                assert type(async_engine.sync_engine.pool).__mro__[1] is measuring
        finally:
            await async_engine.dispose()
    else:
        engine = create_engine(url_for_driver(database_url, "psycopg2"), poolclass=measuring)
        try:
            with instrument(engine, pool=name, registry=registry):
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                assert sample(registry, checkouts, name) == 1
        finally:
            engine.dispose()


@pytest.mark.parametrize("pool_class", SHIPPED_QUEUE_POOLS, ids=lambda c: c.__name__)
def test_instrument_gives_a_shipped_pool_its_measuring_class(
    database_url: str, registry, pool_class: type[QueuePool]
) -> None:
    # The class instrument() builds for a stock pool is the one poolclass= would give.
    if pool_class._is_asyncio:
        engine: Engine | AsyncEngine = create_async_engine(
            url_for_driver(database_url, "asyncpg"), poolclass=pool_class
        )
    else:
        engine = create_engine(url_for_driver(database_url, "psycopg2"), poolclass=pool_class)
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    with instrument(engine, pool=pool_class.__name__, registry=registry):
        assert type(sync_engine.pool).__mro__[1] is MEASURING_CLASSES[pool_class]
        sync_engine.dispose()
        assert type(sync_engine.pool).__mro__[1] is MEASURING_CLASSES[pool_class]
        assert sync_engine.pool.logger.name == pool_class(lambda: None).logger.name
