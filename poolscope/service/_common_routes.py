"""Routes both drivers serve the same way: liveness, pool state, Prometheus exposition."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from poolscope.fastapi import pool_answer
from poolscope.service._outside_call import OUTSIDE_PATH
from poolscope.service._route_parts import Seconds
from poolscope.service._service_state import StateDep

__all__ = ["router"]

router = APIRouter()


@router.get(OUTSIDE_PATH)
async def outside(seconds: Seconds) -> dict[str, Any]:
    """A slow call outside the database (an HTTP API, an LLM): the held-idle routes call
    it. Takes no connection and no thread."""
    await asyncio.sleep(seconds)
    return {"slept_seconds": seconds}


@router.get("/health")
async def health() -> dict[str, Any]:
    """Liveness only: never touches the database."""
    return {"status": "ok", "pid": os.getpid()}


@router.get("/pool")
async def pool_state(state: StateDep) -> dict[str, Any]:
    settings = state.settings
    instrumentation = state.instrumentation
    limiter = to_thread.current_default_thread_limiter()
    answer: dict[str, Any] = {
        "pool": settings.pool_name,
        "driver": settings.driver,
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "leak_threshold": settings.leak_threshold,
        "stack_capture": settings.stack_capture,
        # Sync routes each take one of these threads; more threads than connections means
        # requests queue inside the pool rather than in front of it.
        "thread_limit": settings.thread_limit,
        "threads_busy": limiter.borrowed_tokens,
        "kept_leaked_sessions": state.kept_session_count,
        "leak_bound": settings.leak_bound,
        "database_url": settings.masked_database_url,
        "pid": os.getpid(),
    }
    if instrumentation is not None:
        # state, leaked_connections, checked_out: as poolscope.fastapi.pool_router serves them.
        own = pool_answer(instrumentation)
        answer.update({key: own[key] for key in ("state", "leaked_connections", "checked_out")})
    return answer


@router.get("/metrics")
async def metrics(state: StateDep) -> Response:
    registry = state.registry
    if state.multiprocess_dir is not None:
        # Several workers: every worker's counters and histograms, read from their files.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
