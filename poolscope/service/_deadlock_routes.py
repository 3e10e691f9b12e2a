"""The FastAPI ``Depends`` deadlock (fastapi/fastapi#3205), kept on purpose beside its fix.

``/deadlock/depends/hold`` is the tutorial pattern: a sync ``yield`` dependency hands the
sync route a Session, and the session's connection is checked out until the dependency's
exit. Between the route's return and that exit FastAPI validates the route's answer on
the same thread pool the route ran on. Once every thread holds a request waiting for a
connection, the requests holding the connections wait for a thread: the service stalls
until the pool timeout, with its connections checked out and idle.

``/deadlock/fixed/hold`` is the service's own ``/hold``: the session lives inside the
route's body, so a connection is returned by the thread that took it, before anything
else needs a thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from poolscope.service._route_parts import HOLD, Seconds
from poolscope.service._service_state import ServiceState, get_state
from poolscope.service._sync_routes import EngineDep, hold_connection

__all__ = ["router"]

router = APIRouter(prefix="/deadlock")


def get_session(state: Annotated[ServiceState, Depends(get_state)]) -> Iterator[Session]:
    """The deadlocking pattern on purpose: the session closes after the response."""
    with Session(state.require_sync_engine()) as session:
        yield session


@router.get("/depends/hold")
def hold_with_a_yield_dependency(
    session: Annotated[Session, Depends(get_session)], seconds: Seconds
) -> dict[str, Any]:
    session.execute(HOLD, {"seconds": seconds})
    return {"held_seconds": seconds}


@router.get("/fixed/hold")
def hold_with_the_session_in_the_route(engine: EngineDep, seconds: Seconds) -> dict[str, Any]:
    return hold_connection(engine, seconds)
