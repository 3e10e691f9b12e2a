"""prometheus_client multiprocess mode: two worker processes, one scrape that sums them."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import mark_process_dead

from poolscope import metrics as names
from poolscope.exporters._flush import FLUSH_SECONDS
from tests.support.multiprocess_worker import scrape, start_threadpool_worker, start_worker, tell
from tests.support.pool_metrics import sample


@pytest.fixture
def multiproc_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="poolscope-multiproc-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def scrape_once_written(
    path: str, *expected: tuple[str, dict[str, str], float]
) -> CollectorRegistry:
    """A scrape once each worker's flush has written the ``(name, labels, value)`` expected:
    workers write their measurements every FLUSH_SECONDS."""
    deadline = time.monotonic() + 4 * FLUSH_SECONDS + 2
    while True:
        registry = scrape(path)
        found = [sample(registry, name, "workers", **labels) for name, labels, _ in expected]
        if found == [value for _, _, value in expected] or time.monotonic() > deadline:
            return registry
        time.sleep(0.05)


@pytest.mark.process
@pytest.mark.slow
def test_two_workers_are_summed_and_gauges_follow_the_pools(
    database_url: str, multiproc_dir: str
) -> None:
    workers = [
        start_worker(database_url, multiproc_dir, pool="workers", pool_size=3) for _ in range(2)
    ]
    try:
        asked = time.perf_counter()
        for worker in workers:
            tell(worker, "holding")
        registry = scrape_once_written(
            multiproc_dir,
            (names.CONNECTION_COUNT, {"state": "used"}, 2),
            (f"{names.POOL_CHECKOUTS}_total", {}, 2),
        )
        assert sample(registry, names.CONNECTION_COUNT, "workers", state="used") == 2
        assert sample(registry, names.CONNECTION_COUNT, "workers", state="idle") == 0
        assert sample(registry, names.CONNECTION_IDLE_MAX, "workers") == 6
        assert sample(registry, names.CONNECTION_MAX, "workers") == 6
        assert sample(registry, names.CONNECTION_PENDING_REQUESTS, "workers") == 0
        assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "workers") == 2
        assert sample(registry, f"{names.POOLS_CREATED}_total", "workers") == 2
        assert sample(registry, f"{names.POOL_CONNECTS}_total", "workers") == 2
        assert sample(registry, f"{names.CONNECTION_WAIT_TIME}_count", "workers") == 2

        for worker in workers:
            tell(worker, None)
            tell(worker, "returned")
        use_count = f"{names.CONNECTION_USE_TIME}_count"
        registry = scrape_once_written(
            multiproc_dir,
            (names.CONNECTION_COUNT, {"state": "used"}, 0),
            (use_count, {"route": ""}, 2),
        )
        assert sample(registry, names.CONNECTION_COUNT, "workers", state="used") == 0
        assert sample(registry, names.CONNECTION_COUNT, "workers", state="idle") == 2
        assert sample(registry, use_count, "workers", route="") == 2
        held = time.perf_counter() - asked
        # The fine buckets and the exact maxima are in the files too; a maximum is the
        # largest of the processes' (each held one connection), never their sum.
        assert sample(registry, f"{names.POOL_USE_TIME}_count", "workers") == 2
        assert sample(registry, f"{names.POOL_WAIT_TIME}_count", "workers") == 2
        use_sum = sample(registry, f"{names.CONNECTION_USE_TIME}_sum", "workers", route="")
        use_max = sample(registry, names.POOL_USE_TIME_MAX, "workers", route="")
        assert use_sum is not None
        assert use_max is not None
        assert use_sum / 2 <= use_max <= held
        assert sample(registry, f"{names.POOL_USE_TIME}_sum", "workers") == pytest.approx(use_sum)
        # Each worker ran one SELECT 1 in its hold: statements and their time summed, the
        # rest of each hold held idle (fine buckets, the exact longest of the processes).
        assert sample(registry, f"{names.POOL_STATEMENTS}_total", "workers", route="") == 2
        in_statements = sample(registry, f"{names.POOL_STATEMENT_TIME}_total", "workers", route="")
        idle_sum = sample(registry, f"{names.POOL_IDLE_TIME}_sum", "workers")
        idle_max = sample(registry, names.POOL_IDLE_TIME_MAX, "workers", route="")
        assert in_statements is not None
        assert idle_sum is not None
        assert idle_max is not None
        assert 0 < in_statements < use_sum
        assert in_statements + idle_sum == pytest.approx(use_sum)
        assert idle_sum / 2 <= idle_max <= use_max
        assert sample(registry, f"{names.POOL_IDLE_TIME}_count", "workers") == 2

        for worker in workers:
            tell(worker, None)
            worker.communicate(timeout=30)
            assert worker.returncode == 0
            mark_process_dead(worker.pid, multiproc_dir)
        registry = scrape(multiproc_dir)
        # Live gauges leave with their processes; counters stay, as prometheus_client keeps them.
        assert not sample(registry, names.CONNECTION_COUNT, "workers", state="idle")
        assert sample(registry, f"{names.POOL_CHECKOUTS}_total", "workers") == 2
    finally:
        for worker in workers:
            worker.kill()
            worker.communicate()


def threadpool_totals(path: str) -> tuple[float | None, float | None, float | None]:
    registry = scrape(path)
    return (
        registry.get_sample_value(names.THREADPOOL_BUSY_THREADS),
        registry.get_sample_value(names.THREADPOOL_LIMIT),
        registry.get_sample_value(names.THREADPOOL_WAITING),
    )


def threadpool_once_written(
    path: str, expected: tuple[float, float, float]
) -> tuple[float | None, float | None, float | None]:
    """The thread-pool gauges once every worker's flush has written ``expected``."""
    deadline = time.monotonic() + 4 * FLUSH_SECONDS + 2
    while (found := threadpool_totals(path)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


@pytest.mark.process
@pytest.mark.slow
def test_thread_pools_of_two_workers_are_summed(multiproc_dir: str) -> None:
    workers = [start_threadpool_worker(multiproc_dir, limit=limit) for limit in (2, 3)]
    try:
        for worker in workers:
            tell(worker, "busy")
        # Each worker: every thread busy, one call waiting for a thread.
        assert threadpool_once_written(multiproc_dir, (5, 5, 2)) == (5, 5, 2)
        for worker in workers:
            tell(worker, None)
            tell(worker, "released")
        assert threadpool_once_written(multiproc_dir, (0, 5, 0)) == (0, 5, 0)
        # close() takes a worker's share out at once, its process still running.
        tell(workers[0], None)
        tell(workers[0], "closed")
        assert threadpool_totals(multiproc_dir) == (0, 3, 0)
        tell(workers[1], None)
        tell(workers[1], "closed")
        assert threadpool_totals(multiproc_dir) == (0, 0, 0)
        for worker in workers:
            tell(worker, None)
            worker.communicate(timeout=30)
            assert worker.returncode == 0
            mark_process_dead(worker.pid, multiproc_dir)
        assert threadpool_totals(multiproc_dir) == (None, None, None)
    finally:
        for worker in workers:
            worker.kill()
            worker.communicate()
