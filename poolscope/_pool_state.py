"""A pool's state at one moment, read from the pool itself (never from counted events)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.pool import QueuePool

__all__ = ["PoolState", "read_pool_state"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PoolState:
    """What ``GET /pool`` shows and the gauges export.

    ``max`` is ``size + max_overflow``, or None when the pool has no limit.
    """

    size: int
    max_overflow: int
    timeout: float
    max: int | None
    idle: int
    used: int
    overflow: int
    pending: int


def read_pool_state(pool: QueuePool, *, pending: int) -> PoolState:
    size = pool.size()
    max_overflow = pool._max_overflow
    return PoolState(
        size=size,
        max_overflow=max_overflow,
        timeout=pool.timeout(),
        max=None if max_overflow < 0 else size + max_overflow,
        idle=pool.checkedin(),
        # QueuePool.dispose() forgets the connections out at the time (it resets its count
        # as if none were) and counts their later return as -1 each: never below 0.
        used=max(0, pool.checkedout()),
        # SQLAlchemy counts overflow from -pool_size up; only the part past pool_size is open.
        overflow=max(0, pool.overflow()),
        pending=pending,
    )
