"""Run files made from real measurements: threads playing requests against a real
PostgreSQL through a real SQLAlchemy pool, timed as Locust and poolscope time them.

Used by the compare tests to make runs of any shape on the fly (the recorded
``poolscope run`` output under tests/data/ covers the real command end to end).
"""

from __future__ import annotations

import bisect
import platform
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, create_engine, event, text

from poolscope._names import DEFAULT_BUCKETS
from poolscope._runfile import (
    Configuration,
    EndpointStats,
    Environment,
    Histogram,
    LatencySummary,
    LocustTotals,
    PoolSample,
    PoolSummary,
    Run,
    TimingSummary,
)
from poolscope._urls import mask_url, url_for_driver

BOUNDS = [*DEFAULT_BUCKETS, float("inf")]


def locust_rounding(milliseconds: float) -> int:
    """Locust keeps response times rounded like this in its per-request record."""
    if milliseconds < 100:
        return round(milliseconds)
    if milliseconds < 1000:
        return round(milliseconds, -1)
    return round(milliseconds, -2)


def histogram(values: list[float]) -> Histogram:
    counts = [0] * len(BOUNDS)
    for value in values:
        counts[bisect.bisect_left(BOUNDS, value)] += 1
    return Histogram(upper_bounds=BOUNDS, counts=counts, sum=sum(values))


def histogram_quantile(counts: list[int], quantile: float) -> float | None:
    total = sum(counts)
    if total == 0:
        return None
    rank, seen, lower = quantile * total, 0, 0.0
    for bound, count in zip(BOUNDS, counts, strict=True):
        if count and seen + count >= rank:
            if bound == float("inf"):
                return BOUNDS[-2]
            return lower + (bound - lower) * (rank - seen) / count
        seen += count
        lower = bound
    return BOUNDS[-2]


def timing(values: list[float]) -> tuple[TimingSummary, Histogram]:
    hist = histogram(values)
    top = max((b for b, c in zip(BOUNDS, hist.counts, strict=True) if c), default=None)
    return (
        TimingSummary(
            count=len(values),
            sum=sum(values),
            p50=histogram_quantile(hist.counts, 0.5),
            p95=histogram_quantile(hist.counts, 0.95),
            p99=histogram_quantile(hist.counts, 0.99),
            max=None if top is None else min(top, BOUNDS[-2]),
        ),
        hist,
    )


def latency(record: Counter[int]) -> LatencySummary:
    ordered = sorted(record.elements())

    def at(q: float) -> float:
        return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])

    return LatencySummary(
        min=float(ordered[0]),
        mean=sum(ordered) / len(ordered),
        p50=at(0.5),
        p95=at(0.95),
        p99=at(0.99),
        max=float(ordered[-1]),
    )


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waits: list[float] = []
        self.uses: list[float] = []
        self.record: Counter[int] = Counter()
        self.connects = 0
        self.pools = 0
        self.pending = 0
        self.in_use = 0
        self.checkouts = 0
        self.engines: list[Engine] = []

    def watch(self, engine: Engine) -> None:
        with self.lock:
            self.pools += 1
            self.engines.append(engine)

        @event.listens_for(engine, "connect")
        def connect(dbapi_connection: Any, connection_record: Any) -> None:
            with self.lock:
                self.connects += 1


def measure_run(
    database_url: str,
    *,
    variant: str,
    scenario: str = "engine-per-request",
    users: int = 4,
    requests_per_user: int = 40,
    pool_size: int = 2,
    sleep_seconds: float = 0.002,
) -> Run:
    """Play ``users`` threads x ``requests_per_user`` queries. ``variant`` ``global`` shares one
    pool; ``per-request`` builds an engine per request, as the anti-pattern does."""
    url = url_for_driver(database_url, "psycopg2")
    recorder = _Recorder()
    shared = None
    if variant != "per-request":
        shared = create_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=30)
        recorder.watch(shared)
    samples: list[PoolSample] = []
    started = time.perf_counter()
    stop = threading.Event()

    def sample() -> None:
        last_count = 0
        while not stop.wait(0.05):
            with recorder.lock:
                waits = recorder.waits[last_count:]
                last_count = len(recorder.waits)
                pool = shared.pool if shared is not None else None
                hist = histogram(waits).counts
                samples.append(
                    PoolSample(
                        t=time.perf_counter() - started,
                        used=pool.checkedout() if pool else recorder.in_use,  # type: ignore[attr-defined]
                        idle=pool.checkedin() if pool else 0,  # type: ignore[attr-defined]
                        pending=recorder.pending,
                        overflow=max(0, pool.overflow()) if pool else 0,  # type: ignore[attr-defined]
                        checkouts=recorder.checkouts,
                        timeouts=0,
                        connects=recorder.connects,
                        pools_created=recorder.pools,
                        wait_count=len(recorder.waits),
                        wait_sum=sum(recorder.waits),
                        wait_p50=histogram_quantile(hist, 0.5),
                        wait_p95=histogram_quantile(hist, 0.95),
                        wait_p99=histogram_quantile(hist, 0.99),
                    )
                )

    def user() -> None:
        for _ in range(requests_per_user):
            began = time.perf_counter()
            engine = shared
            if engine is None:
                engine = create_engine(url)
                recorder.watch(engine)
            with recorder.lock:
                recorder.pending += 1
            asked = time.perf_counter()
            with engine.connect() as connection:
                got = time.perf_counter()
                with recorder.lock:
                    recorder.pending -= 1
                    recorder.checkouts += 1
                    recorder.waits.append(got - asked)
                    recorder.in_use += 1
                connection.execute(text("SELECT pg_sleep(:s)"), {"s": sleep_seconds})
            with recorder.lock:
                recorder.uses.append(time.perf_counter() - got)
                recorder.in_use -= 1
            if shared is None:
                engine.dispose()
            elapsed_ms = (time.perf_counter() - began) * 1000
            with recorder.lock:
                recorder.record[locust_rounding(elapsed_ms)] += 1

    began_at = datetime.now(UTC)
    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    sampler.join()
    duration = time.perf_counter() - started
    if shared is not None:
        shared.dispose()
    finished_at = datetime.now(UTC)

    requests = users * requests_per_user
    name = "/items" if variant != "per-request" else "/antipatterns/engine-per-request/items"
    stats = latency(recorder.record)
    record = {str(key): count for key, count in sorted(recorder.record.items())}
    endpoint = EndpointStats(
        method="GET",
        name=name,
        requests=requests,
        failures=0,
        requests_per_second=requests / duration,
        latency_ms=stats,
        response_times=record,
    )
    wait, wait_histogram = timing(recorder.waits)
    use, use_histogram = timing(recorder.uses)
    return Run(
        scenario=scenario,
        variant=variant,
        complete=True,
        started_at=began_at,
        finished_at=finished_at,
        configuration=Configuration(
            database_url=mask_url(url),
            driver="psycopg2",
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=30,
            users=users,
            spawn_rate=users,
            duration_seconds=duration,
            host="threads in the test process",
        ),
        environment=Environment(
            poolscope="0.1.0",
            python=platform.python_version(),
            sqlalchemy=sqlalchemy.__version__,
            locust="none: measured by tests/measured_runs.py",
            platform=platform.platform(),
            cpus=2,
        ),
        locust=LocustTotals(
            requests=requests,
            failures=0,
            requests_per_second=requests / duration,
            latency_ms=stats,
            endpoints=[endpoint],
            response_times=record,
        ),
        pool=PoolSummary(
            wait=wait,
            use=use,
            wait_histogram=wait_histogram,
            use_histogram=use_histogram,
            checkouts=recorder.checkouts,
            timeouts=0,
            connects=recorder.connects,
            pools_created=recorder.pools,
            max_used=max((s.used for s in samples), default=0),
            max_idle=max((s.idle for s in samples), default=0),
            max_pending=max((s.pending for s in samples), default=0),
            max_overflow=max((s.overflow for s in samples), default=0),
            final_used=0,
            final_overflow=0,
        ),
        samples=samples,
    )
