"""Real queries through both drivers against the session's PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine


def test_psycopg2_runs_real_queries(sync_engine: Engine) -> None:
    with sync_engine.connect() as connection:
        assert connection.dialect.driver == "psycopg2"
        assert connection.scalar(text("select sum(x) from generate_series(1, 100) x")) == 5050


async def test_asyncpg_runs_real_queries(async_engine: AsyncEngine) -> None:
    async with async_engine.connect() as connection:
        assert connection.dialect.driver == "asyncpg"
        assert await connection.scalar(text("select count(*) from pg_stat_activity")) >= 1
