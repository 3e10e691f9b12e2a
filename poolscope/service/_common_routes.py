"""Routes both drivers serve the same way: liveness, pool state, Prometheus exposition."""

from __future__ import annotations

import os
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.pool import Pool, QueuePool

from poolscope.service._state import ServiceState, StateDep

__all__ = ["MULTIPROCESS_DIR_ENV", "router"]

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, Any]:
    """Liveness only: never touches the database."""
    return {"status": "ok", "pid": os.getpid()}


def _pool(state: ServiceState) -> Pool | None:
    if state.sync_engine is not None:
        return state.sync_engine.pool
    if state.async_engine is not None:
        return state.async_engine.pool
    return None


@router.get("/pool")
async def pool_state(state: StateDep) -> dict[str, Any]:
    settings = state.settings
    pool = _pool(state)
    limiter = to_thread.current_default_thread_limiter()
    answer: dict[str, Any] = {
        "pool": settings.pool_name,
        "driver": settings.driver,
        "pool_class": type(pool).__name__ if pool is not None else None,
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "leak_threshold": settings.leak_threshold,
        # Sync routes each take one of these threads; more threads than connections means
        # requests queue inside the pool rather than in front of it.
        "thread_limit": settings.thread_limit,
        "threads_busy": limiter.borrowed_tokens,
        "kept_leaked_sessions": state.kept_session_count,
        "leak_bound": settings.leak_bound,
        "database_url": settings.masked_database_url,
        "pid": os.getpid(),
    }
    if isinstance(pool, QueuePool):
        answer.update(
            checked_out=pool.checkedout(),
            checked_in=pool.checkedin(),
            overflow=max(pool.overflow(), 0),
        )
    return answer


@router.get("/metrics")
async def metrics(state: StateDep) -> Response:
    registry = state.registry
    if MULTIPROCESS_DIR_ENV in os.environ:
        # Several workers: every worker's counters and histograms, read from their files.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
