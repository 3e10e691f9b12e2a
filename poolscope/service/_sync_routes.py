"""The psycopg2 routes: plain ``def`` handlers (run in FastAPI's thread pool) on a Session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from poolscope.service._db import build_sync_engine, items_query
from poolscope.service._error_handlers import LeakBoundReached
from poolscope.service._guard import work_of
from poolscope.service._routes_shared import COUNT_ITEMS, HOLD, Limit, Seconds, item_rows
from poolscope.service._service_state import ServiceState, StateDep, get_state
from poolscope.service._sessions import GuardedSession, close_sync_session

__all__ = ["router"]

router = APIRouter()


def get_session(
    state: Annotated[ServiceState, Depends(get_state)], request: Request
) -> Iterator[Session]:
    """The right way: one session per request from the one global engine, always closed."""
    session = GuardedSession(state.require_sync_engine(), work_of(request.scope))
    try:
        yield session
    finally:
        close_sync_session(session)


SessionDep = Annotated[Session, Depends(get_session)]


@router.get("/items")
def list_items(session: SessionDep, limit: Limit = 20) -> dict[str, Any]:
    rows = session.execute(items_query(limit)).all()
    return {"items": item_rows(rows)}


@router.get("/hold")
def hold(session: SessionDep, seconds: Seconds) -> dict[str, Any]:
    session.execute(HOLD, {"seconds": seconds})
    return {"held_seconds": seconds}


@router.get("/antipatterns/engine-per-request/items")
def list_items_with_engine_per_request(state: StateDep, limit: Limit = 20) -> dict[str, Any]:
    # The anti-pattern on purpose: a new engine, pool and connection for every request.
    engine = build_sync_engine(state.settings, per_request=True)
    instrumentation = state.instrument(engine, per_request=True)
    try:
        with Session(engine) as session:
            rows = session.execute(items_query(limit)).all()
    finally:
        engine.dispose()
        instrumentation.close()
    return {"items": item_rows(rows)}


@router.get("/antipatterns/leak")
def leak_a_session(state: StateDep) -> dict[str, Any]:
    kept = state.kept_sync_sessions
    if not kept.reserve():
        raise LeakBoundReached(kept.bound)
    # The anti-pattern on purpose: the session (and its connection) is never closed here.
    session = Session(state.require_sync_engine())
    try:
        count = session.scalar(COUNT_ITEMS)
    except BaseException:
        kept.cancel()
        session.close()
        raise
    return {"items": count, "kept_sessions": kept.keep(session)}


@router.post("/antipatterns/leak/release")
def release_leaked_sessions(state: StateDep) -> dict[str, Any]:
    sessions = state.kept_sync_sessions.take_all()
    for session in sessions:
        session.close()
    return {"released": len(sessions)}
