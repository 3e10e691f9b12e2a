"""The async drivers' routes (asyncpg, psycopg_async): ``async def`` handlers, AsyncSession."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from poolscope.service._db import build_async_engine, items_query
from poolscope.service._error_handlers import LeakBoundReached
from poolscope.service._outside_call import call_outside_async
from poolscope.service._route_parts import COUNT_ITEMS, HOLD, Limit, Seconds, item_rows
from poolscope.service._service_state import ServiceState, StateDep, get_state
from poolscope.service._sessions import close_async_session

__all__ = ["router"]

router = APIRouter()


async def get_session(
    state: Annotated[ServiceState, Depends(get_state)],
) -> AsyncIterator[AsyncSession]:
    """The right way: one session per request from the one global engine, always closed."""
    session = AsyncSession(state.require_async_engine())
    try:
        yield session
    finally:
        await close_async_session(session)


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@router.get("/items")
async def list_items(session: SessionDep, limit: Limit = 20) -> dict[str, Any]:
    rows = (await session.execute(items_query(limit))).all()
    return {"items": item_rows(rows)}


@router.get("/hold")
async def hold(session: SessionDep, seconds: Seconds) -> dict[str, Any]:
    await session.execute(HOLD, {"seconds": seconds})
    return {"held_seconds": seconds}


@router.get("/held-idle/across-call")
async def across_call(session: SessionDep, request: Request, seconds: Seconds) -> dict[str, Any]:
    # The anti-pattern on purpose: the request's session keeps its connection, idle in
    # transaction, through the outside call.
    count = await session.scalar(COUNT_ITEMS)
    await call_outside_async(str(request.base_url), seconds)
    return {"items": count, "outside_seconds": seconds}


@router.get("/held-idle/released")
async def released(state: StateDep, request: Request, seconds: Seconds) -> dict[str, Any]:
    # The fix: a session of its own, closed before the outside call.
    session = AsyncSession(state.require_async_engine())
    try:
        count = await session.scalar(COUNT_ITEMS)
    finally:
        await close_async_session(session)
    await call_outside_async(str(request.base_url), seconds)
    return {"items": count, "outside_seconds": seconds}


@router.get("/antipatterns/engine-per-request/items")
async def list_items_with_engine_per_request(state: StateDep, limit: Limit = 20) -> dict[str, Any]:
    # The anti-pattern on purpose: a new engine, pool and connection for every request.
    engine = build_async_engine(state.settings, per_request=True)
    instrumentation = state.instrument(engine, per_request=True)
    try:
        async with AsyncSession(engine) as session:
            rows = (await session.execute(items_query(limit))).all()
    finally:
        await engine.dispose()
        instrumentation.close()
    return {"items": item_rows(rows)}


@router.get("/antipatterns/leak")
async def leak_a_session(state: StateDep) -> dict[str, Any]:
    kept = state.kept_async_sessions
    if not kept.reserve():
        raise LeakBoundReached(kept.bound)
    # The anti-pattern on purpose: the session (and its connection) is never closed here.
    session = AsyncSession(state.require_async_engine())
    try:
        count = await session.scalar(COUNT_ITEMS)
    except BaseException:
        kept.cancel()
        await session.close()
        raise
    return {"items": count, "kept_sessions": kept.keep(session)}


@router.post("/antipatterns/leak/release")
async def release_leaked_sessions(state: StateDep) -> dict[str, Any]:
    sessions = state.kept_async_sessions.take_all()
    for session in sessions:
        await session.close()
    return {"released": len(sessions)}
