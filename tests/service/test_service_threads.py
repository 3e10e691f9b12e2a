"""More clients than threads and connections: the right-way sync routes never deadlock,
the tutorial's ``yield`` dependency does, and the thread-pool gauges tell which."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from poolscope import metrics as names
from tests.support.service_process import running_service

POOL_SIZE = 5
THREAD_LIMIT = 8
CLIENTS = 24
HOLD_SECONDS = 0.5
SERVE_ARGUMENTS = ("--pool-size", str(POOL_SIZE), "--thread-limit", str(THREAD_LIMIT))


@dataclass(frozen=True)
class Load:
    statuses: Counter[str]  # status code, or the transport error's name
    seconds: float
    threadpool: list[dict[str, float]]  # scrapes taken during the load

    @property
    def served(self) -> int:
        return self.statuses["200"]

    @property
    def throughput(self) -> float:
        return self.served / self.seconds


def gauges(exposition: str) -> dict[str, float]:
    wanted = {*names.THREADPOOL_GAUGES, names.CONNECTION_COUNT, names.CONNECTION_PENDING_REQUESTS}
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name not in wanted:
                continue
            state = sample.labels.get(names.STATE_LABEL)
            key = f"{sample.name}:{state}" if state else sample.name
            found[key] = found.get(key, 0.0) + sample.value
    return found


def starved(scrape: dict[str, float]) -> bool:
    busy = scrape[names.THREADPOOL_BUSY_THREADS]
    return (
        busy == THREAD_LIMIT
        and scrape[names.CONNECTION_PENDING_REQUESTS] == busy
        and scrape[f"{names.CONNECTION_COUNT}:used"] == POOL_SIZE
    )


async def load(base_url: str, path: str, seconds: float) -> Load:
    """CLIENTS clients asking back to back for ``seconds``; requests still open at the end
    are not counted (the async scrape loop answers on the event loop, no thread needed)."""
    statuses: Counter[str] = Counter()
    scrapes: list[dict[str, float]] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CLIENTS + 1)
    async with httpx.AsyncClient(base_url=base_url, timeout=seconds, limits=limits) as client:

        async def one_client() -> None:
            while time.monotonic() < deadline:
                try:
                    response = await client.get(path, params={"seconds": HOLD_SECONDS})
                    outcome = str(response.status_code)
                except httpx.TransportError as error:
                    outcome = type(error).__name__
                if time.monotonic() <= deadline:
                    statuses[outcome] += 1

        async def scrape() -> None:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                scrapes.append(gauges((await client.get("/metrics")).text))

        started = time.monotonic()
        tasks = [asyncio.ensure_future(one_client()) for _ in range(CLIENTS)]
        tasks.append(asyncio.ensure_future(scrape()))
        await asyncio.sleep(seconds)
        await asyncio.wait(tasks, timeout=0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return Load(statuses=statuses, seconds=time.monotonic() - started, threadpool=scrapes)


@pytest.mark.process
@pytest.mark.slow
def test_right_way_sync_hold_keeps_the_pools_throughput_with_more_clients_than_threads(
    database_url: str,
) -> None:
    with running_service("--database-url", database_url, *SERVE_ARGUMENTS) as service:
        result = asyncio.run(load(service.base_url, "/hold", seconds=20))
    total = sum(result.statuses.values())
    assert result.served >= 0.9 * total, result.statuses
    pool_rate = POOL_SIZE / HOLD_SECONDS
    assert result.throughput >= 0.8 * pool_rate, (result.throughput, result.statuses)
    # The threads were all busy, yet the requests holding connections kept their threads:
    # never did every busy thread wait for a connection.
    assert {scrape[names.THREADPOOL_LIMIT] for scrape in result.threadpool} == {THREAD_LIMIT}
    assert any(s[names.THREADPOOL_BUSY_THREADS] == THREAD_LIMIT for s in result.threadpool)
    assert not [s for s in result.threadpool if starved(s)], result.threadpool


@pytest.mark.process
@pytest.mark.slow
def test_yield_dependency_route_starves_the_thread_pool_with_connections_idle(
    database_url: str,
) -> None:
    arguments = (*SERVE_ARGUMENTS, "--pool-timeout", "30")
    with running_service("--database-url", database_url, *arguments) as service:
        result = asyncio.run(load(service.base_url, "/deadlock/depends/hold", seconds=6))
    # The pool alone could serve 10/s; the service serves the first holders, then stalls.
    assert result.throughput < 0.25 * POOL_SIZE / HOLD_SECONDS, result.statuses
    # Every thread waits for a connection, and the five connections checked out have no
    # thread to finish their requests on: they sit idle.
    stalled = [scrape for scrape in result.threadpool if starved(scrape)]
    assert len(stalled) >= len(result.threadpool) // 2, result.threadpool
