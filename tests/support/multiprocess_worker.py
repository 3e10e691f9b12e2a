"""Worker processes in prometheus_client's multiprocess mode, and scrapes of their files."""

from __future__ import annotations

import os
import subprocess
import sys

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

# Instrument an engine (multiprocess mode chosen by the environment), check out one
# connection and hold it until told, then return it; when told again, close and exit.
# argv: database URL, pool name, pool size, leak threshold ("" for none).
_WORKER = """
import sys
from sqlalchemy import create_engine, text
import poolscope
from poolscope._urls import url_for_driver

database_url, pool, pool_size, leak_threshold = sys.argv[1:5]
engine = create_engine(
    url_for_driver(database_url, "psycopg2"), pool_size=int(pool_size), max_overflow=0
)
instrumentation = poolscope.instrument(
    engine, pool=pool, leak_threshold=float(leak_threshold) if leak_threshold else None
)
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


def start_worker(
    database_url: str,
    multiproc_dir: str,
    *,
    pool: str,
    pool_size: int,
    leak_threshold: float | None = None,
) -> subprocess.Popen[str]:
    threshold = "" if leak_threshold is None else str(leak_threshold)
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, database_url, pool, str(pool_size), threshold],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": multiproc_dir},
    )


def tell(worker: subprocess.Popen[str], expect: str | None) -> None:
    """Read the worker's next line, which must be ``expect``; or, for None, move it on."""
    assert worker.stdin is not None
    assert worker.stdout is not None
    if expect is None:
        worker.stdin.write("\n")
        worker.stdin.flush()
        return
    line = worker.stdout.readline().strip()
    assert line == expect, line


def scrape(path: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return registry
