"""Thread starvation told apart from pool exhaustion (fastapi/fastapi#3205).

Sync routes run on a bounded thread pool. When every one of its threads is busy waiting
for a connection while connections are checked out, the requests holding those
connections have no thread to finish on: the connections sit idle, and only the pool
timeout ends the stall. Pool exhaustion looks alike on the pool's gauges alone, but
there the requests holding the connections keep their threads and keep working.
"""

from __future__ import annotations

from collections.abc import Sequence

from poolscope.readings._runfile import PoolSummary
from poolscope.readings._scrape import PoolSnapshot

__all__ = ["starvation_cause", "starved_idle_connections", "starved_seconds"]


def starved_idle_connections(snapshot: PoolSnapshot) -> int:
    """The connections checked out while every thread waits for one (so none of their
    requests is on a thread); 0 when the thread pool is not starved or not exported."""
    busy, limit = snapshot.threads_busy, snapshot.thread_limit
    if busy is None or limit is None or busy < limit or snapshot.pending < busy:
        return 0
    return snapshot.used


def starved_seconds(timed: Sequence[tuple[float, PoolSnapshot]]) -> float:
    """Time covered by starved samples: each counts from the sample before it."""
    total, previous = 0.0, 0.0
    for t, snapshot in timed:
        if starved_idle_connections(snapshot):
            total += t - previous
        previous = t
    return round(total, 3)


def starvation_cause(summary: PoolSummary | None) -> str | None:
    """The cause in words when the run starved its thread pool, else None."""
    if summary is None or summary.starved_seconds <= 0 or summary.thread_limit is None:
        return None
    return (
        f"threads {summary.max_threads_busy}/{summary.thread_limit} busy, all waiting for a "
        f"connection; {summary.starved_idle_connections} connections checked out and idle "
        f"for {summary.starved_seconds:.1f} s (sampled): the thread pool is starved, not the pool"
    )
