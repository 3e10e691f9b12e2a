"""The service built in-process: settings, and apps with different settings side by side."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr

from poolscope._errors import PoolscopeError
from poolscope.service import ServiceSettings, create_app
from poolscope.service._settings import settings_from
from tests.support.in_process import started
from tests.support.waiting import wait_until_async


def test_settings_read_environment_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOLSCOPE_POOL_SIZE", "7")
    monkeypatch.setenv("POOLSCOPE_DRIVER", "asyncpg")
    monkeypatch.setenv("POOLSCOPE_THREAD_LIMIT", "11")
    settings = settings_from(pool_size=3, max_overflow=None)
    assert (settings.pool_size, settings.driver, settings.thread_limit) == (3, "asyncpg", 11)
    assert settings.max_overflow == 0
    assert settings.pool_timeout == 30


def test_invalid_settings_are_one_line_user_errors() -> None:
    with pytest.raises(PoolscopeError) as raised:
        settings_from(driver="mysqldb", pool_size=0, stack_capture="everything")
    message = str(raised.value)
    assert "\n" not in message
    assert "driver" in message
    assert "pool_size" in message
    assert "stack_capture" in message


def test_settings_survive_the_trip_to_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ServiceSettings(
        database_url=SecretStr("postgresql://u:p%40ss@127.0.0.1:5432/db"),
        driver="asyncpg",
        pool_size=4,
        leak_threshold=2.5,
        workers=2,
    )
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)
    assert ServiceSettings() == settings


def test_settings_never_print_the_password() -> None:
    settings = ServiceSettings(database_url=SecretStr("postgresql://u:hunter2-xyz@h:5432/db"))
    assert "hunter2-xyz" not in repr(settings)
    assert "hunter2-xyz" not in str(settings.model_dump())
    assert settings.masked_database_url == "postgresql://u:***@h:5432/db"


async def test_apps_with_different_settings_live_side_by_side(database_url: str) -> None:
    sync_app = create_app(
        ServiceSettings(database_url=SecretStr(database_url), pool_size=2, thread_limit=7)
    )
    async_app = create_app(
        ServiceSettings(database_url=SecretStr(database_url), driver="asyncpg", pool_size=4)
    )
    async with started(sync_app) as sync_client, started(async_app) as async_client:
        assert (await sync_client.get("/items", params={"limit": 5})).json()["items"][0]["id"] > 0
        for _ in range(3):
            page = (await async_client.get("/items", params={"limit": 3})).json()
            assert len(page["items"]) == 3
        sync_pool = (await sync_client.get("/pool")).json()
        async_pool = (await async_client.get("/pool")).json()
        sync_metrics = (await sync_client.get("/metrics")).text
        async_metrics = (await async_client.get("/metrics")).text
    assert (sync_pool["driver"], sync_pool["pool_size"]) == ("psycopg2", 2)
    assert sync_pool["thread_limit"] == 7
    assert (async_pool["driver"], async_pool["pool_size"]) == ("asyncpg", 4)
    # Each app counts its own requests in its own registry.
    assert 'http_requests_total{handler="/items",method="GET",status="2xx"} 1.0' in sync_metrics
    assert 'http_requests_total{handler="/items",method="GET",status="2xx"} 3.0' in async_metrics


async def test_thread_limit_queues_sync_requests_in_front_of_the_pool(database_url: str) -> None:
    """With fewer threads than connections, sync requests wait for a thread, not the pool."""
    app = create_app(
        ServiceSettings(database_url=SecretStr(database_url), pool_size=10, thread_limit=3)
    )
    async with started(app) as client:
        holds = [
            asyncio.create_task(client.get("/hold", params={"seconds": 1.5})) for _ in range(6)
        ]
        during: dict[str, Any] = {}

        async def three_threads_busy() -> bool:
            during.update((await client.get("/pool")).json())
            return bool(during["threads_busy"] == 3)

        await wait_until_async(three_threads_busy, timeout=1.4)
        responses = await asyncio.gather(*holds)
    assert all(response.status_code == 200 for response in responses)
    assert during["thread_limit"] == 3
    assert during["threads_busy"] == 3
    assert during["state"]["used"] == 3
    # The other three are queued for a thread: none is waiting inside the pool.
    assert during["state"]["pending"] == 0
