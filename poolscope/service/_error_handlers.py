"""How the service answers when the database or the pool fails: JSON, never a traceback."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from poolscope.service._db import DATABASE_ERRORS
from poolscope.service._guard import ClientGone, work_of
from poolscope.service._settings import ServiceSettings

__all__ = ["ErrorLog", "LeakBoundReached", "error_kind", "install_error_handlers"]

logger = logging.getLogger("poolscope.service")

# During an outage every request fails: one line per this many seconds, with counts.
ERROR_LOG_INTERVAL_SECONDS = 5.0


class LeakBoundReached(Exception):
    """/antipatterns/leak already keeps as many sessions as it may."""

    def __init__(self, bound: int) -> None:
        super().__init__(bound)
        self.bound = bound


class ErrorLog:
    """The 503 warnings: the first at once, then the rest counted and logged as one line
    per interval while they go on. Used from the event loop only."""

    def __init__(self, interval: float = ERROR_LOG_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._counts: Counter[str] = Counter()
        self._window: asyncio.TimerHandle | None = None

    def warning(self, message: str) -> None:
        if self._window is None:
            logger.warning("%s (503; more within %g s are counted)", message, self.interval)
            self._open_window()
        else:
            self._counts[message] += 1

    def flush(self) -> None:
        """Log what was counted; the window closes once an interval passes with nothing."""
        if self._window is not None:
            self._window.cancel()
            self._window = None
        if not self._counts:
            return
        counts, self._counts = self._counts, Counter()
        logger.warning(
            "%d more 503 answers in the last %g s: %s",
            counts.total(),
            self.interval,
            "; ".join(f"{count} x {message}" for message, count in counts.most_common()),
        )
        self._open_window()

    def _open_window(self) -> None:
        self._window = asyncio.get_running_loop().call_later(self.interval, self.flush)


def error_kind(error: BaseException) -> str:
    """The class name of what really failed: the driver's error, not a wrapper of it
    (the message may quote SQL and parameters, and is never shown)."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    # SQLAlchemy's asyncpg adapter wraps the driver's exception in a generic class.
    cause = error.__cause__
    if type(error).__module__.startswith("sqlalchemy") and cause is not None:
        error = cause
    return type(error).__name__


def install_error_handlers(app: FastAPI, settings: ServiceSettings, errors: ErrorLog) -> None:
    async def pool_exhausted(request: Request, error: Exception) -> JSONResponse:
        if not _abandoned(request):
            errors.warning(
                f"pool {settings.pool_name} exhausted on {request.method} {request.url.path}: "
                f"no connection within {settings.pool_timeout:g}s"
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
        kind = error_kind(error)
        if not _abandoned(request):
            errors.warning(f"database error on {request.method} {request.url.path}: {kind}")
        return JSONResponse(
            status_code=503,
            content={"error": "database_error", "message": f"the database failed: {kind}"},
            headers={"Retry-After": "1"},
        )

    async def client_gone(request: Request, error: Exception) -> JSONResponse:
        # Nobody reads it: the client left, or shutdown answered it already.
        return JSONResponse(status_code=503, content={"error": "abandoned"})

    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        # A bug: Starlette raises it again after this answer, for the server to log, and
        # the server then closes the connection; "close" tells a keep-alive client not to
        # send its next request on it (it would be reset, unanswered).
        return JSONResponse(
            status_code=503,
            content={
                "error": "unexpected_error",
                "message": f"the service failed: {type(error).__name__}",
            },
            headers={"Connection": "close"},
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
    for error_class in DATABASE_ERRORS:
        app.add_exception_handler(error_class, database_error)
    app.add_exception_handler(ClientGone, client_gone)
    app.add_exception_handler(LeakBoundReached, leak_bound_reached)
    app.add_exception_handler(Exception, unexpected_error)


def _abandoned(request: Request) -> bool:
    work = work_of(request.scope)
    return work is not None and work.gone
