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


# In an event loop: a thread limiter of the given size, one more blocking call than it has
# threads; then, each when told, release them all, and stop exporting. argv: limit.
_THREADPOOL_WORKER = """
import asyncio, sys, threading
import anyio
from anyio import to_thread
from poolscope.fastapi import instrument_threadpool

async def main():
    limit = int(sys.argv[1])
    limiter = anyio.CapacityLimiter(limit)
    collector = instrument_threadpool(limiter=limiter)
    release = threading.Event()
    lines = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(
        target=lambda: [loop.call_soon_threadsafe(lines.put_nowait, line) for line in sys.stdin],
        daemon=True,
    ).start()
    async with anyio.create_task_group() as group:
        for _ in range(limit + 1):
            group.start_soon(lambda: to_thread.run_sync(release.wait, limiter=limiter))
        while limiter.statistics().tasks_waiting < 1:
            await asyncio.sleep(0.01)
        print("busy", flush=True)
        await lines.get()
        release.set()
    print("released", flush=True)
    await lines.get()
    collector.close()
    print("closed", flush=True)
    await lines.get()

asyncio.run(main())
"""


def start_threadpool_worker(multiproc_dir: str, *, limit: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _THREADPOOL_WORKER, str(limit)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": multiproc_dir},
    )


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
