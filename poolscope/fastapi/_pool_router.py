"""``GET /pool``: a pool's state and its checked-out connections as JSON, for a FastAPI app."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from poolscope._instrument import Instrumentation

__all__ = ["pool_answer", "pool_router"]


def pool_answer(instrumentation: Instrumentation) -> dict[str, Any]:
    """The pool as ``GET /pool`` shows it: name, driver, leak threshold, ``state`` (size,
    max_overflow, timeout, max, idle, used, overflow, pending, as the gauges read them),
    ``leaked_connections`` and ``checked_out`` (each connection out now: ``age_seconds``,
    ``route``, ``borrower``, ``leaked``, ``in_statement``, ``statements`` and
    ``statement_seconds`` so far, ``idle_seconds`` since the last statement ended (or the
    checkout), ``site``, and all of it in words as ``summary``; oldest first)."""
    return {
        "pool": instrumentation.pool_name,
        "driver": instrumentation.driver,
        "leak_threshold": instrumentation.leak_threshold,
        "state": dataclasses.asdict(instrumentation.state()),
        "leaked_connections": instrumentation.leaked_connections(),
        "checked_out": [
            {**dataclasses.asdict(c), "summary": c.describe()}
            for c in instrumentation.checked_out()
        ],
    }


def pool_router(instrumentation: Instrumentation, *, path: str = "/pool") -> APIRouter:
    """A router serving :func:`pool_answer` at ``GET path``: ``app.include_router(...)``.

    ``poolscope run`` reads it to record the target's driver and timeout and to put each
    leak's route and borrower into the run file; the Locust plugin shows it.
    """
    router = APIRouter()

    @router.get(path, include_in_schema=False)
    async def pool() -> dict[str, Any]:
        return pool_answer(instrumentation)

    return router
