"""``create_app(settings)``: the sample service, built on demand, never at import time."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import mark_process_dead
from prometheus_fastapi_instrumentator import Instrumentator
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError

from poolscope._urls import is_async
from poolscope.exporters import MULTIPROC_DIR_ENV
from poolscope.fastapi import instrument_app, instrument_threadpool
from poolscope.postgres import resolve_database_url
from poolscope.service import _async_routes, _common_routes, _deadlock_routes, _sync_routes
from poolscope.service._db import (
    build_async_engine,
    build_sync_engine,
    cancel_running_queries,
    ensure_seeded,
    fill_mysql_pool,
    fill_mysql_pool_async,
    terminate_own_backends,
)
from poolscope.service._error_handlers import error_kind, install_error_handlers
from poolscope.service._guard import RequestGuard
from poolscope.service._service_state import ServiceState
from poolscope.service._sessions import close_async_session, close_sync_session
from poolscope.service._settings import ServiceSettings

__all__ = ["create_app", "create_app_from_environment"]

logger = logging.getLogger("poolscope.service")

SHUTDOWN_CANCEL_SECONDS = 5
STRAGGLER_WAIT_SECONDS = 2


def create_app(
    settings: ServiceSettings | None = None, *, registry: CollectorRegistry | None = None
) -> FastAPI:
    """The service for one driver. Each app has its own registry unless one is given, so
    apps with different settings live side by side in one process."""
    settings = settings if settings is not None else ServiceSettings()
    registry = registry if registry is not None else CollectorRegistry()
    multiprocess_dir = os.environ.get(MULTIPROC_DIR_ENV)
    state = ServiceState(
        settings=settings,
        registry=registry,
        multiprocess_dir=Path(multiprocess_dir) if multiprocess_dir else None,
    )
    app = FastAPI(title="poolscope sample service", lifespan=_lifespan)
    app.state.poolscope = state
    install_error_handlers(app, settings, state.errors)
    app.include_router(_common_routes.router)
    if is_async(settings.driver):
        app.include_router(_async_routes.router)
    else:
        app.include_router(_sync_routes.router)
        app.include_router(_deadlock_routes.router)
    Instrumentator(registry=state.registry, excluded_handlers=["/metrics"]).instrument(app)
    # Checkouts carry the route template: use_time's route label, leak reports, /pool.
    instrument_app(app)
    # Outermost: a request abandoned here is abandoned by everything inside.
    app.add_middleware(
        RequestGuard,
        stopping=state.stopping,
        cancel_tasks=lambda: state.async_engine is not None,
        stragglers=state.stragglers,
    )
    return app


def create_app_from_environment() -> FastAPI:
    """For uvicorn workers (``factory=True``): settings from ``POOLSCOPE_*`` only."""
    return create_app(ServiceSettings())


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.poolscope
    if not is_async(state.settings.driver):
        # Sync routes run in anyio's default thread pool; async routes never use it.
        to_thread.current_default_thread_limiter().total_tokens = state.settings.thread_limit
    # Read in this event loop, where the limiter lives: threads busy against the limit.
    threadpool = instrument_threadpool(registry=state.registry)
    if state.settings.database_url is None:
        url = await to_thread.run_sync(resolve_database_url)
        state.settings = state.settings.model_copy(update={"database_url": SecretStr(url)})
    state.stopping.watch_signals()
    try:
        await _start_engine(state)
        logger.info(
            "service ready: driver %s, pool %s/%s, timeout %ss, database %s",
            state.settings.driver,
            state.settings.pool_size,
            state.settings.max_overflow,
            state.settings.pool_timeout,
            state.settings.masked_database_url,
        )
        yield
    finally:
        state.stopping.unwatch_signals()
        # First: _stop_engine marks a worker's multiprocess files dead.
        threadpool.close()
        await _stop_engine(state)
        state.errors.flush()


async def _start_engine(state: ServiceState) -> None:
    if not is_async(state.settings.driver):
        engine = build_sync_engine(state.settings)
        state.sync_engine = engine
        # Before instrumenting: opening the pool is not a use of its connections.
        await to_thread.run_sync(fill_mysql_pool, engine, state.settings)
        state.instrumentation = state.instrument(engine)

        def seed() -> None:
            with engine.connect() as connection:
                ensure_seeded(connection)

        await to_thread.run_sync(seed)
    else:
        async_engine = build_async_engine(state.settings)
        state.async_engine = async_engine
        await fill_mysql_pool_async(async_engine, state.settings)
        state.instrumentation = state.instrument(async_engine)
        async with async_engine.connect() as connection:
            await connection.run_sync(ensure_seeded)


async def _end_cut_off_requests(state: ServiceState) -> None:
    """Requests that shutdown abandoned may still run a query (a sync one in a worker
    thread, which the process cannot exit before; an async one in a task): cancel their
    queries, and those that got a connection just after, then wait for them to end."""
    deadline = time.monotonic() + SHUTDOWN_CANCEL_SECONDS
    while time.monotonic() < deadline:
        try:
            cancelled = cancel_running_queries(state.settings)
        except DBAPIError as error:
            logger.warning("could not cancel running queries: %s", error_kind(error))
            break
        if not cancelled:
            break
        logger.info("cancelled %d running queries of requests cut off by shutdown", cancelled)
        await asyncio.sleep(0.1)
    if state.stragglers:
        _, pending = await asyncio.wait(set(state.stragglers), timeout=STRAGGLER_WAIT_SECONDS)
        for task in pending:
            task.cancel()


async def _end_own_backends(state: ServiceState) -> None:
    """No backend of this process may outlive it: one a cancelled task dropped may still
    be running its query."""
    deadline = time.monotonic() + SHUTDOWN_CANCEL_SECONDS
    try:
        while terminate_own_backends(state.settings) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    except DBAPIError as error:
        logger.warning("could not end the service's backends: %s", error_kind(error))


async def _stop_engine(state: ServiceState) -> None:
    if state.settings.database_url is not None:
        await _end_cut_off_requests(state)
    for async_session in state.kept_async_sessions.take_all():
        await close_async_session(async_session)
    sync_sessions = state.kept_sync_sessions.take_all()
    if state.sync_engine is not None:
        sync_engine = state.sync_engine

        def close_sync() -> None:
            for session in sync_sessions:
                close_sync_session(session)
            sync_engine.dispose()

        # A thread of its own: handlers cut off by shutdown may still take the others.
        await to_thread.run_sync(close_sync, limiter=CapacityLimiter(1))
        state.sync_engine = None
    if state.async_engine is not None:
        await state.async_engine.dispose()
        state.async_engine = None
    if state.settings.database_url is not None:
        await _end_own_backends(state)
    if state.instrumentation is not None:
        state.instrumentation.close()
    if state.multiprocess_dir is not None:
        # This worker's connections are gone: its live gauges must stop counting.
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
    logger.info("service stopped: engine disposed")
