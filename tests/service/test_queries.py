"""Real queries through every driver against the session's PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from poolscope._urls import Driver


def test_sync_drivers_run_real_queries(sync_engine: Engine, sync_driver: Driver) -> None:
    with sync_engine.connect() as connection:
        assert connection.engine.url.drivername == f"postgresql+{sync_driver}"
        assert connection.scalar(text("select sum(x) from generate_series(1, 100) x")) == 5050


async def test_async_drivers_run_real_queries(
    async_engine: AsyncEngine, async_driver: Driver
) -> None:
    async with async_engine.connect() as connection:
        assert connection.engine.url.drivername == f"postgresql+{async_driver}"
        assert await connection.scalar(text("select count(*) from pg_stat_activity")) >= 1
