"""Leak series in prometheus_client's multiprocess mode: written by the worker that leaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from pool_metrics import sample
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from poolscope import _names as names

# Holds one connection past a 0.2 s threshold until told, then returns it and waits.
WORKER = """
import sys
from sqlalchemy import create_engine, text
import poolscope
from poolscope._urls import url_for_driver

engine = create_engine(url_for_driver(sys.argv[1], "psycopg2"), pool_size=2, max_overflow=0)
instrumentation = poolscope.instrument(engine, pool="leaky-workers", leak_threshold=0.2)
assert instrumentation.multiprocess
connection = engine.connect()
connection.execute(text("SELECT 1"))
print("holding", flush=True)
sys.stdin.readline()
connection.close()
print("returned", flush=True)
sys.stdin.readline()
instrumentation.close()
engine.dispose()
"""


def scrape(path: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return registry


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


@pytest.mark.slow
def test_a_worker_leak_is_counted_and_its_return_clears_the_gauge(database_url: str) -> None:
    path = tempfile.mkdtemp(prefix="poolscope-multiproc-")
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": path},
    )
    assert worker.stdin is not None
    assert worker.stdout is not None
    try:
        assert worker.stdout.readline().strip() == "holding"
        eventually(path, (1.0, 1.0))
        worker.stdin.write("\n")
        worker.stdin.flush()
        assert worker.stdout.readline().strip() == "returned"
        eventually(path, (1.0, 0.0))
        worker.stdin.write("\n")
        worker.stdin.flush()
        _, errors = worker.communicate(timeout=30)
        assert worker.returncode == 0, errors
        assert "Connection leak on pool 'leaky-workers'" in errors
    finally:
        worker.kill()
        shutil.rmtree(path, ignore_errors=True)
