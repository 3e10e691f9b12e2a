"""The sessions the routes use: closed without failing the answer, and tied to the request.

A session's ``close()`` rolls back on its connection; when the database ended that
connection after the query (a terminated backend, a restart), the rollback fails. By then
the answer may be on its way to the client, so the failure must not reach the framework:
SQLAlchemy has already invalidated the connection, and the pool replaces it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from poolscope.service._db import DATABASE_ERRORS
from poolscope.service._guard import RequestHold, current_work

__all__ = ["GuardedSession", "close_async_session", "close_sync_session", "service_session"]

logger = logging.getLogger("poolscope.service")

WORK_INFO_KEY = "poolscope.work"


class GuardedSession(Session):
    """A sync session that refuses to start work for an abandoned request, and lets the
    request's :class:`RequestHold` (that of the request being served) cancel the query it runs."""

    def __init__(self, bind: Any) -> None:
        work = current_work.get()
        super().__init__(bind, info={WORK_INFO_KEY: work} if work is not None else None)


@contextlib.contextmanager
def service_session(bind: Any) -> Iterator[Session]:
    """``with Session(bind) as session``, guarded, and closed without failing the answer."""
    session = GuardedSession(bind)
    try:
        yield session
    finally:
        close_sync_session(session)


@event.listens_for(GuardedSession, "after_begin")
def _connection_taken(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    work = session.info.get(WORK_INFO_KEY)
    if isinstance(work, RequestHold):
        # Raises ClientGone once abandoned; the session's close() gives the connection back.
        work.running(connection.connection.dbapi_connection)


def close_sync_session(session: Session) -> None:
    work = session.info.get(WORK_INFO_KEY)
    if isinstance(work, RequestHold):
        work.finished()
    try:
        session.close()
    except DATABASE_ERRORS as error:
        logger.debug("closing a session failed (its connection is replaced): %r", error)
        with contextlib.suppress(*DATABASE_ERRORS):
            session.invalidate()


async def close_async_session(session: AsyncSession) -> None:
    try:
        await session.close()
    except DATABASE_ERRORS as error:
        logger.debug("closing a session failed (its connection is replaced): %r", error)
        with contextlib.suppress(*DATABASE_ERRORS):
            await session.invalidate()
