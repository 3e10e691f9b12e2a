"""The sync drivers' routes (psycopg2, psycopg): plain ``def`` handlers (run in FastAPI's
thread pool) on a Session.

The right way opens the Session inside the route's body, not in a ``yield`` dependency:
a connection goes back to the pool on the thread that took it, so no request ever holds
a connection while it waits for a thread, and no number of clients can deadlock the
service (``/deadlock/depends/hold`` keeps the tutorial pattern that does; see
docs/depends-deadlock.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from poolscope.service._db import build_sync_engine, items_query
from poolscope.service._error_handlers import LeakBoundReached
from poolscope.service._outside_call import call_outside
from poolscope.service._route_parts import COUNT_ITEMS, HOLD, Limit, Seconds, item_rows
from poolscope.service._service_state import ServiceState, StateDep, get_state
from poolscope.service._sessions import service_session

__all__ = ["EngineDep", "hold_connection", "router"]

router = APIRouter()


async def get_engine(state: Annotated[ServiceState, Depends(get_state)]) -> Engine:
    """The one global engine. async, and no ``yield``: handing it over takes no thread."""
    return state.require_sync_engine()


EngineDep = Annotated[Engine, Depends(get_engine)]


@router.get("/items")
def list_items(engine: EngineDep, limit: Limit = 20) -> dict[str, Any]:
    with service_session(engine) as session:
        rows = session.execute(items_query(limit)).all()
    return {"items": item_rows(rows)}


def hold_connection(engine: Engine, seconds: float) -> dict[str, Any]:
    with service_session(engine) as session:
        session.execute(HOLD, {"seconds": seconds})
    return {"held_seconds": seconds}


@router.get("/hold")
def hold(engine: EngineDep, seconds: Seconds) -> dict[str, Any]:
    return hold_connection(engine, seconds)


@router.get("/held-idle/across-call")
def across_call(engine: EngineDep, request: Request, seconds: Seconds) -> dict[str, Any]:
    # The anti-pattern on purpose: the session, and its connection, stay open across the
    # outside call; the connection sits idle in transaction meanwhile.
    with service_session(engine) as session:
        count = session.scalar(COUNT_ITEMS)
        call_outside(str(request.base_url), seconds)
    return {"items": count, "outside_seconds": seconds}


@router.get("/held-idle/released")
def released(engine: EngineDep, request: Request, seconds: Seconds) -> dict[str, Any]:
    # The fix: the session is closed (its connection back in the pool) before the call.
    with service_session(engine) as session:
        count = session.scalar(COUNT_ITEMS)
    call_outside(str(request.base_url), seconds)
    return {"items": count, "outside_seconds": seconds}


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
