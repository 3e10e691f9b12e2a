"""How the service answers when the database or the pool fails: JSON, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from poolscope.service._settings import ServiceSettings

__all__ = ["LeakBoundReached", "install_error_handlers"]

logger = logging.getLogger("poolscope.service")


class LeakBoundReached(Exception):
    """/antipatterns/leak already keeps as many sessions as it may."""

    def __init__(self, bound: int) -> None:
        super().__init__(bound)
        self.bound = bound


def install_error_handlers(app: FastAPI, settings: ServiceSettings) -> None:
    async def pool_exhausted(request: Request, error: Exception) -> JSONResponse:
        logger.warning(
            "pool %s exhausted on %s %s: no connection within %ss",
            settings.pool_name,
            request.method,
            request.url.path,
            settings.pool_timeout,
        )
        limit = settings.pool_size + settings.max_overflow
        return JSONResponse(
            status_code=503,
            content={
                "error": "pool_exhausted",
                "message": (
                    f"connection pool {settings.pool_name!r} exhausted: all {limit} connections "
                    f"(size {settings.pool_size}, overflow {settings.max_overflow}) stayed "
                    f"checked out for the whole {settings.pool_timeout:g} s pool timeout"
                ),
                "pool": settings.pool_name,
                "pool_size": settings.pool_size,
                "max_overflow": settings.max_overflow,
                "pool_timeout": settings.pool_timeout,
            },
            headers={"Retry-After": "1"},
        )

    async def database_error(request: Request, error: Exception) -> JSONResponse:
        # The driver's message may quote SQL and parameters; the class name is enough here.
        kind = type(getattr(error, "orig", None) or error).__name__
        logger.warning("database error on %s %s: %s", request.method, request.url.path, kind)
        return JSONResponse(
            status_code=503,
            content={"error": "database_error", "message": f"the database failed: {kind}"},
        )

    async def leak_bound_reached(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, LeakBoundReached)
        return JSONResponse(
            status_code=503,
            content={
                "error": "leak_bound_reached",
                "message": (
                    f"/antipatterns/leak already keeps {error.bound} unclosed sessions; "
                    "POST /antipatterns/leak/release to close them"
                ),
                "leak_bound": error.bound,
            },
        )

    app.add_exception_handler(PoolTimeoutError, pool_exhausted)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(LeakBoundReached, leak_bound_reached)
