"""The service's table, its seed rows, and the engines it talks through."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from poolscope._urls import (
    Driver,
    admin_driver,
    dialect_of,
    driver_dialect,
    is_async,
    url_for_driver,
)
from poolscope.service._settings import ServiceSettings

__all__ = [
    "DATABASE_ERRORS",
    "SEED_ROWS",
    "application_name",
    "build_async_engine",
    "build_sync_engine",
    "cancel_running_queries",
    "database_url",
    "ensure_seeded",
    "fill_mysql_pool",
    "fill_mysql_pool_async",
    "items",
    "items_query",
    "terminate_own_backends",
]

logger = logging.getLogger("poolscope.service")

SEED_ROWS = 500
# What a failing database raises: SQLAlchemy's errors, the network's, and what asyncpg
# raises where SQLAlchemy does not wrap it (refused, reset, "starting up", timeouts, and a
# backend terminated while a new connection is being set up).
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    SQLAlchemyError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
OWN_CONNECT_TIMEOUT_SECONDS = 3
# The server checks this often (ms) whether the client of a running query is still there:
# the query of a connection the service dropped (a cancelled request) ends within it.
CLIENT_CHECK_INTERVAL_MS = 1000
# Any constant shared by every process seeding the same database: two workers starting
# together must not both create and fill the table.
_SEED_LOCK_KEY = 0x706F6F6C73636F70

metadata = MetaData()
items = Table(
    "poolscope_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("category", String(20), nullable=False),
    Column("price", Numeric(10, 2), nullable=False),
)


def database_url(settings: ServiceSettings) -> str:
    if settings.database_url is None:
        raise ValueError("the settings hold no database URL; resolve one before building")
    return settings.database_url.get_secret_value()


def application_name(pool_name: str) -> str:
    """How the service's connections show in ``pg_stat_activity``."""
    return f"poolscope {pool_name} {os.getpid()}"[:63]


def _engine_arguments(settings: ServiceSettings, *, per_request: bool) -> dict[str, Any]:
    if driver_dialect(settings.driver) == "mysql":
        # _reset_or_replace rolls back returned connections instead.
        return {**_pool_arguments(settings, per_request=per_request), "pool_reset_on_return": None}
    return _pool_arguments(settings, per_request=per_request)


def _pool_arguments(settings: ServiceSettings, *, per_request: bool) -> dict[str, Any]:
    if per_request:
        # The anti-pattern's engine keeps SQLAlchemy's default pool: it lives one request.
        return {"pool_logging_name": settings.pool_name}
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_logging_name": settings.pool_name,
    }


def _connect_args(driver: Driver, pool_name: str) -> dict[str, Any]:
    if driver_dialect(driver) == "mysql":
        # MySQL lists no application name: the service keeps its connections' ids instead
        # (_track_mysql_connections).
        return {}
    name = application_name(pool_name)
    if driver == "asyncpg":
        return {
            "server_settings": {
                "application_name": name,
                "client_connection_check_interval": str(CLIENT_CHECK_INTERVAL_MS),
            }
        }
    # psycopg2 and psycopg (sync and async) pass keyword arguments on to libpq.
    return {
        "application_name": name,
        "options": f"-c client_connection_check_interval={CLIENT_CHECK_INTERVAL_MS}",
    }


def build_sync_engine(settings: ServiceSettings, *, per_request: bool = False) -> Engine:
    if is_async(settings.driver):
        raise ValueError(f"{settings.driver} is spoken to through an AsyncEngine")
    arguments = _engine_arguments(settings, per_request=per_request)
    engine = create_engine(
        url_for_driver(database_url(settings), settings.driver),
        connect_args=_connect_args(settings.driver, arguments["pool_logging_name"]),
        **arguments,
    )
    _track_mysql_connections(engine, settings)
    return engine


def build_async_engine(settings: ServiceSettings, *, per_request: bool = False) -> AsyncEngine:
    if not is_async(settings.driver):
        raise ValueError(f"{settings.driver} is spoken to through a sync Engine")
    arguments = _engine_arguments(settings, per_request=per_request)
    engine = create_async_engine(
        url_for_driver(database_url(settings), settings.driver),
        connect_args=_connect_args(settings.driver, arguments["pool_logging_name"]),
        **arguments,
    )
    _track_mysql_connections(engine.sync_engine, settings)
    return engine


# MySQL's ids (CONNECTION_ID()) of this process's open connections, by pool name: what
# pg_stat_activity's application_name tells on PostgreSQL.
_mysql_connections: dict[str, set[int]] = {}
_MYSQL_ID = "poolscope_mysql_id"


def _reset_or_replace(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
    """The pool's rollback-on-return, done here (the engine's own is off): a connection
    the server KILLed after the session's rollback fails this second one; it is replaced,
    where SQLAlchemy would log the failure as an error with its traceback."""
    if reset_state.transaction_was_reset or reset_state.terminate_only:
        return
    if not reset_state.asyncio_safe:
        return
    try:
        dbapi_connection.rollback()
    except Exception as error:
        logger.debug("a returned connection could not be reset (it is replaced): %r", error)
        connection_record.invalidate(error)


def _track_mysql_connections(engine: Engine, settings: ServiceSettings) -> None:
    """On MySQL: keep the ids of the engine's connections, reset them with
    :func:`_reset_or_replace`."""
    if driver_dialect(settings.driver) != "mysql":
        return
    own = _mysql_connections.setdefault(settings.pool_name, set())

    def remember(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT CONNECTION_ID()")
            (connection_id,) = cursor.fetchone()
        finally:
            cursor.close()
        connection_record.info[_MYSQL_ID] = int(connection_id)
        own.add(int(connection_id))
        if not is_async(settings.driver):
            # The cancel() psycopg's connections have, which the request guard calls when
            # a sync route's client leaves: pymysql has none.
            dbapi_connection.cancel = functools.partial(_kill_query, settings, int(connection_id))

    def forget(dbapi_connection: Any, connection_record: Any) -> None:
        own.discard(connection_record.info.pop(_MYSQL_ID, None))

    def end_its_query(dbapi_connection: Any, connection_record: Any, exception: Any) -> None:
        # A cancelled task (its client left) drops its connection mid-query; MySQL would
        # run the query on to its end (PostgreSQL's client_connection_check_interval
        # ends it): KILL QUERY it, from a thread, as the event loop must not wait.
        connection_id = connection_record.info.get(_MYSQL_ID)
        if connection_id is None or isinstance(exception, Exception):
            return
        threading.Thread(
            target=_kill_query, args=(settings, int(connection_id)), daemon=True
        ).start()

    event.listen(engine, "connect", remember)
    event.listen(engine, "close", forget)
    event.listen(engine, "invalidate", end_its_query)
    event.listen(engine, "reset", _reset_or_replace)
    # A detached connection (the async garbage-collected path) is closed without its
    # record: _kill_own_connections drops its id once the server no longer lists it.


def _kill_query(settings: ServiceSettings, connection_id: int) -> None:
    try:
        engine = _admin_engine(settings)
        try:
            with engine.connect() as connection:
                connection.execute(text(f"KILL QUERY {connection_id}"))
        finally:
            engine.dispose()
    except Exception as error:
        # Ended already, or the server is gone: nothing is left to end.
        logger.debug("could not end the query of a dropped connection: %r", error)


def fill_mysql_pool(engine: Engine, settings: ServiceSettings) -> None:
    """On MySQL, open the pool's connections at startup: pymysql spends tens of ms of CPU
    per connect (a TLS context it builds each time), so a cold pool's first burst would
    measure connects, not waits for a connection."""
    if driver_dialect(settings.driver) != "mysql":
        return
    held = [engine.connect() for _ in range(settings.pool_size)]
    for connection in held:
        connection.close()


async def fill_mysql_pool_async(engine: AsyncEngine, settings: ServiceSettings) -> None:
    """:func:`fill_mysql_pool` for aiomysql, which builds its connections on pymysql's."""
    if driver_dialect(settings.driver) != "mysql":
        return
    held = [await engine.connect() for _ in range(settings.pool_size)]
    for connection in held:
        await connection.close()


def cancel_running_queries(settings: ServiceSettings) -> int:
    """Cancel the queries this process's connections are running; return how many.

    Through a connection of its own: the pool may have none to spare.
    """
    if dialect_of(database_url(settings)) == "mysql":
        return _kill_own_connections(settings, "KILL QUERY", "AND COMMAND = 'Query'")
    return _signal_own_backends(settings, "pg_cancel_backend", "AND state = 'active'")


def terminate_own_backends(settings: ServiceSettings) -> int:
    """End every backend of this process's connections; return how many are left
    (those just told to end, until they have)."""
    if dialect_of(database_url(settings)) == "mysql":
        return _kill_own_connections(settings, "KILL", "")
    return _signal_own_backends(settings, "pg_terminate_backend", "")


def _admin_engine(settings: ServiceSettings) -> Engine:
    url = database_url(settings)
    return create_engine(
        url_for_driver(url, admin_driver(url)),
        poolclass=NullPool,
        connect_args={"connect_timeout": OWN_CONNECT_TIMEOUT_SECONDS},
    )


def _kill_own_connections(settings: ServiceSettings, statement: str, condition: str) -> int:
    own = sorted(_mysql_connections.get(settings.pool_name, ()))
    if not own:
        return 0
    engine = _admin_engine(settings)
    try:
        with engine.connect() as connection:
            # Ids are the server's own integers, never user input.
            listed = ", ".join(str(connection_id) for connection_id in own)
            found = connection.scalars(
                text(
                    f"SELECT ID FROM information_schema.PROCESSLIST WHERE ID IN ({listed})"
                    f" {condition}"
                )
            ).all()
            for connection_id in found:
                # One that ended since the list was read is not an error.
                with contextlib.suppress(DBAPIError):
                    connection.execute(text(f"{statement} {int(connection_id)}"))
    finally:
        engine.dispose()
    if not condition:
        _mysql_connections[settings.pool_name].difference_update(set(own) - set(found))
    return len(found)


def _signal_own_backends(settings: ServiceSettings, function: str, condition: str) -> int:
    engine = _admin_engine(settings)
    try:
        with engine.connect() as connection:
            signalled = connection.scalar(
                text(
                    f"SELECT count(*) FILTER (WHERE {function}(pid)) FROM pg_stat_activity"
                    f" WHERE application_name = :name {condition}"
                    " AND pid <> pg_backend_pid()"
                ),
                {"name": application_name(settings.pool_name)},
            )
    finally:
        engine.dispose()
    return int(signalled or 0)


def ensure_seeded(connection: Connection) -> None:
    """Create and fill the items table if it is missing or empty (commits)."""
    if connection.dialect.name in ("mysql", "mariadb"):
        # A session lock: MySQL's DDL commits, which would end a transaction's lock.
        connection.execute(text("SELECT GET_LOCK(:key, 60)"), {"key": f"{_SEED_LOCK_KEY:x}"})
        try:
            _create_and_fill(connection)
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:key)"), {"key": f"{_SEED_LOCK_KEY:x}"})
            connection.commit()
        return
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEED_LOCK_KEY})
    _create_and_fill(connection)


def _create_and_fill(connection: Connection) -> None:
    metadata.create_all(connection, checkfirst=True)
    if connection.scalar(select(func.count()).select_from(items)) == 0:
        connection.execute(
            insert(items),
            [
                {
                    "id": number,
                    "name": f"item {number:03d}",
                    "category": ("tools", "books", "food", "games")[number % 4],
                    "price": f"{(number * 37) % 1000 / 10 + 1:.2f}",
                }
                for number in range(1, SEED_ROWS + 1)
            ],
        )
    connection.commit()


def items_query(limit: int) -> Any:
    """The page of items /items returns: a real sort over the whole table."""
    return (
        select(items.c.id, items.c.name, items.c.category, items.c.price)
        .order_by(items.c.price.desc(), items.c.id)
        .limit(limit)
    )
