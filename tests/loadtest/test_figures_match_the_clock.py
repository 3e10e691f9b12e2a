"""poolscope's wait and use figures against a clock of the test's own: every checkout is
timed around ``connect()`` and every hold between SQLAlchemy's checkout and checkin
events, with ``time.perf_counter`` in this module; poolscope's /metrics, read back as
``poolscope run`` reads it, must agree within 10 % (or 2 ms, for waits shorter than the
scheduler's noise), with its maxima matching too.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.ext.asyncio import create_async_engine

import poolscope
from poolscope._urls import url_for_driver
from poolscope.loadtest import PoolSnapshot, TimingSummary, parse_metrics
from poolscope.readings import TimedSnapshot, summarize_pool

POOL_SIZE = 3
WORKERS = 8
ROUNDS = 3
HOLDS = (0.01, 0.05, 0.12, 0.3)  # seconds; the wait of a queued checkout follows from them


class Clock:
    """The test's own measurements: a wait per checkout, a use per checkout/checkin."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.uses: list[float] = []
        self._lock = threading.Lock()

    def listen(self, engine: Engine) -> None:
        @event.listens_for(engine, "checkout")
        def checkout(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
            connection_record.info["checked_out_at"] = time.perf_counter()

        @event.listens_for(engine, "checkin")
        def checkin(dbapi_connection: Any, connection_record: Any) -> None:
            started = connection_record.info.pop("checked_out_at", None)
            if started is not None:
                self.add(self.uses, time.perf_counter() - started)

    def clear(self) -> None:
        with self._lock:
            self.waits.clear()
            self.uses.clear()

    def add(self, values: list[float], seconds: float) -> None:
        with self._lock:
            values.append(seconds)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(round(q * len(ordered), 9))) - 1]


def assert_agrees(summary: TimingSummary, truth: list[float], what: str) -> None:
    assert summary.count == len(truth), what
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        figure, clock = getattr(summary, name), nearest_rank(truth, q)
        assert figure is not None, what
        assert abs(figure - clock) <= max(0.10 * clock, 0.002), f"{what} {name}: {figure} {clock}"
    assert summary.max_exact, what


def hold_for(index: int) -> float:
    return HOLDS[index % len(HOLDS)] * random.uniform(0.9, 1.1)


def scrape(registry: CollectorRegistry) -> PoolSnapshot:
    return parse_metrics(generate_latest(registry).decode())


def check(registry: CollectorRegistry, baseline: PoolSnapshot, clock: Clock) -> None:
    summary = summarize_pool(baseline, [TimedSnapshot(t=1.0, snapshot=scrape(registry))])
    assert summary is not None
    assert_agrees(summary.wait, clock.waits, "wait")
    assert_agrees(summary.use, clock.uses, "use")
    # The pool was saturated: at least the first round's extra workers waited.
    assert sum(wait > 0.005 for wait in clock.waits) >= WORKERS - POOL_SIZE


@pytest.fixture
def saturated_sync_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(
        url_for_driver(database_url, "psycopg2"), pool_size=POOL_SIZE, max_overflow=0
    )
    yield engine
    engine.dispose()


def test_sync_figures_agree_with_the_tests_clock(
    saturated_sync_engine: Engine, registry: CollectorRegistry
) -> None:
    engine = saturated_sync_engine
    clock = Clock()
    clock.listen(engine)
    with poolscope.instrument(engine, pool="clock", registry=registry):
        with engine.connect() as connection:  # opened before the baseline
            connection.execute(text("SELECT 1"))
        baseline = scrape(registry)
        clock.clear()

        def worker(number: int) -> None:
            for round_ in range(ROUNDS):
                asked = time.perf_counter()
                with engine.connect() as connection:
                    clock.add(clock.waits, time.perf_counter() - asked)
                    seconds = hold_for(number + round_)
                    connection.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        check(registry, baseline, clock)


async def test_async_figures_agree_with_the_tests_clock(
    database_url: str, registry: CollectorRegistry
) -> None:
    engine = create_async_engine(
        url_for_driver(database_url, "asyncpg"), pool_size=POOL_SIZE, max_overflow=0
    )
    clock = Clock()
    clock.listen(engine.sync_engine)
    try:
        with poolscope.instrument(engine, pool="clock", registry=registry):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            baseline = scrape(registry)
            clock.clear()

            async def worker(number: int) -> None:
                for round_ in range(ROUNDS):
                    asked = time.perf_counter()
                    async with engine.connect() as connection:
                        clock.add(clock.waits, time.perf_counter() - asked)
                        seconds = hold_for(number + round_)
                        await connection.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})

            await asyncio.wait_for(asyncio.gather(*(worker(n) for n in range(WORKERS))), 60)
            check(registry, baseline, clock)
    finally:
        await engine.dispose()
