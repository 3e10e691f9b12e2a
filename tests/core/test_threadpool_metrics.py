"""The thread pool that runs sync routes is exported beside the pool: busy, limit, waiting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import anyio
import httpx
from anyio import to_thread
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from poolscope import metrics as names
from poolscope.fastapi import instrument_threadpool


def threadpool(registry: CollectorRegistry) -> tuple[float | None, float | None, float | None]:
    return (
        registry.get_sample_value(names.THREADPOOL_BUSY_THREADS),
        registry.get_sample_value(names.THREADPOOL_LIMIT),
        registry.get_sample_value(names.THREADPOOL_WAITING),
    )


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_busy_threads_limit_and_waiting_calls_of_a_given_limiter(
    registry: CollectorRegistry,
) -> None:
    limiter = anyio.CapacityLimiter(2)
    instrument_threadpool(registry=registry, limiter=limiter)
    assert threadpool(registry) == (0.0, 2.0, 0.0)
    release = threading.Event()
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(lambda: to_thread.run_sync(release.wait, limiter=limiter))
        await wait_until(lambda: limiter.statistics().tasks_waiting == 1)
        assert threadpool(registry) == (2.0, 2.0, 1.0)
        release.set()
    assert threadpool(registry) == (0.0, 2.0, 0.0)


async def test_the_default_limiter_shows_a_sync_route_on_its_thread(
    registry: CollectorRegistry,
) -> None:
    collector = instrument_threadpool(registry=registry)
    app = FastAPI()
    entered, release = threading.Event(), threading.Event()

    @app.get("/block")
    def block() -> str:
        entered.set()
        release.wait(10)
        return "done"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        request = asyncio.ensure_future(client.get("/block"))
        await wait_until(entered.is_set)
        limit = to_thread.current_default_thread_limiter().total_tokens
        assert threadpool(registry) == (1.0, limit, 0.0)
        release.set()
        assert (await request).json() == "done"
    collector.close()
    assert threadpool(registry) == (None, None, None)
