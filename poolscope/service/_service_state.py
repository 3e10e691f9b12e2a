"""What one running app holds: its settings, registry, engine and the sessions it leaked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from poolscope._instrument import Instrumentation, instrument
from poolscope.service._error_handlers import ErrorLog
from poolscope.service._guard import Stopping
from poolscope.service._kept_sessions import KeptSessions
from poolscope.service._settings import ServiceSettings

__all__ = ["SHUTDOWN_GRACE_SECONDS", "ServiceState", "StateDep", "get_state"]

# How long requests in flight may go on once the process is asked to stop; uvicorn's own
# graceful-shutdown timeout (poolscope serve) leaves room after it to answer them.
SHUTDOWN_GRACE_SECONDS = 3.0


@dataclass(kw_only=True)
class ServiceState:
    """Built by ``create_app``; the engine appears at startup and goes at shutdown."""

    settings: ServiceSettings
    # What /metrics shows with one worker: HTTP and pool metrics.
    registry: CollectorRegistry
    # With several workers (prometheus-client's multiprocess mode) every metric goes to
    # the files in this directory instead, and /metrics reads them all.
    multiprocess_dir: Path | None = None
    sync_engine: Engine | None = None
    async_engine: AsyncEngine | None = None
    instrumentation: Instrumentation | None = None
    # Shutdown: set by SIGTERM/SIGINT; the requests in flight get this grace period.
    stopping: Stopping = field(default_factory=lambda: Stopping(SHUTDOWN_GRACE_SECONDS))
    # Handlers shutdown abandoned that were still running when their client was answered.
    stragglers: set[asyncio.Task[None]] = field(default_factory=set)
    errors: ErrorLog = field(default_factory=ErrorLog)
    kept_sync_sessions: KeptSessions[Session] = field(init=False)
    kept_async_sessions: KeptSessions[AsyncSession] = field(init=False)

    def __post_init__(self) -> None:
        self.kept_sync_sessions = KeptSessions(self.settings.leak_bound)
        self.kept_async_sessions = KeptSessions(self.settings.leak_bound)

    def instrument(
        self, engine: Engine | AsyncEngine, *, per_request: bool = False
    ) -> Instrumentation:
        """Measure ``engine``'s pool under the service's pool name."""
        return instrument(
            engine,
            pool=self.settings.pool_name,
            registry=self.registry,
            multiprocess=self.multiprocess_dir is not None,
            # An engine that lives one request has no leak to find (and would start a
            # leak-scanning thread per request).
            leak_threshold=None if per_request else self.settings.leak_threshold,
            stack_capture=self.settings.stack_capture,
        )

    def require_sync_engine(self) -> Engine:
        if self.sync_engine is None:
            raise RuntimeError("the service has no sync engine (not started, or an async driver)")
        return self.sync_engine

    def require_async_engine(self) -> AsyncEngine:
        if self.async_engine is None:
            raise RuntimeError("the service has no async engine (not started, or a sync driver)")
        return self.async_engine

    @property
    def kept_session_count(self) -> int:
        return len(self.kept_sync_sessions) + len(self.kept_async_sessions)


async def get_state(request: Request) -> ServiceState:
    # async so that async routes never need a worker thread for it.
    state = request.app.state.poolscope
    assert isinstance(state, ServiceState)
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]
