"""Leak series in prometheus_client's multiprocess mode: written by the worker that leaks."""

from __future__ import annotations

import shutil
import tempfile
import time

import pytest

from poolscope import metrics as names
from tests.support.multiprocess_worker import scrape, start_worker, tell
from tests.support.pool_metrics import sample


def leak_series(path: str) -> tuple[float | None, float | None]:
    registry = scrape(path)
    return (
        sample(registry, f"{names.POOL_LEAKS}_total", "leaky-workers"),
        sample(registry, names.POOL_LEAKED_CONNECTIONS, "leaky-workers"),
    )


def eventually(path: str, expected: tuple[float, float], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while leak_series(path) != expected:
        assert time.monotonic() < deadline, leak_series(path)
        time.sleep(0.05)


@pytest.mark.process
@pytest.mark.slow
def test_a_worker_leak_is_counted_and_its_return_clears_the_gauge(database_url: str) -> None:
    path = tempfile.mkdtemp(prefix="poolscope-multiproc-")
    # Holds one connection past a 0.2 s threshold until told, then returns it and waits.
    worker = start_worker(database_url, path, pool="leaky-workers", pool_size=2, leak_threshold=0.2)
    try:
        tell(worker, "holding")
        eventually(path, (1.0, 1.0))
        tell(worker, None)
        tell(worker, "returned")
        eventually(path, (1.0, 0.0))
        tell(worker, None)
        _, errors = worker.communicate(timeout=30)
        assert worker.returncode == 0, errors
        assert "Connection leak on pool 'leaky-workers'" in errors
    finally:
        worker.kill()
        shutil.rmtree(path, ignore_errors=True)
