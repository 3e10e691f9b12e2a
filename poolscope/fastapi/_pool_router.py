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


def pool_router(
    instrumentation: Instrumentation,
    *,
    path: str = "/pool",
    tags: list[str] | None = None,
    include_in_schema: bool = False,
) -> APIRouter:
    """A router serving :func:`pool_answer` at ``GET path``: ``app.include_router(...)``.

    ``poolscope run`` reads it to record the target's driver and timeout and to put each
    leak's route and borrower into the run file; the Locust plugin shows it.

    Its route carries ``tags`` (default ``["poolscope"]``): an app's
    ``generate_unique_id_function`` that names routes from their first tag (FastAPI's
    full-stack template does) works on it too. It stays out of the app's OpenAPI schema
    unless ``include_in_schema``.
    """
    router = APIRouter(tags=["poolscope"] if tags is None else list(tags))

    @router.get(path, include_in_schema=include_in_schema)
    async def pool() -> dict[str, Any]:
        return pool_answer(instrumentation)

    return router
