"""Connections held idle told apart from a pool too small for its database work.

A route that keeps its connection (an open session) across work outside the database
(an HTTP or LLM call, password hashing, a transaction never ended) fills the pool with
connections that do nothing: a bigger pool only hides it. poolscope measures, per route,
the time in statements beside the time held; a route whose holds are long and mostly
outside statements is named, with what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence

from poolscope.readings._no_data import NO_DATA
from poolscope.readings._runfile import PoolSummary, RouteHolds

__all__ = [
    "HELD_IDLE_MAX_BUSY_SHARE",
    "HELD_IDLE_MIN_IDLE_SECONDS",
    "format_share",
    "held_idle_cause",
    "held_idle_route",
    "held_idle_routes",
    "mostly_held_idle",
    "route_figures",
    "route_lines",
]

# A route is named when its holds are at most this share in statements...
HELD_IDLE_MAX_BUSY_SHARE = 0.25
# ...and each hold keeps its connection idle this long on average: shorter idle time is
# the application's own work between statements (the ORM, serialising), not a wait.
HELD_IDLE_MIN_IDLE_SECONDS = 0.05
# The pool counts as mostly held idle when the named routes hold at least this share of
# all the time connections were held.
MOSTLY_IDLE_SHARE = 0.5


def format_share(share: float | None) -> str:
    """``0.3 %``, ``42 %``; ``no data`` without data."""
    if share is None:
        return NO_DATA
    percent = share * 100
    return f"{percent:.1f} %" if percent < 10 else f"{percent:.0f} %"


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def _idle_per_hold(route: RouteHolds) -> float:
    idle = route.idle_seconds
    return 0.0 if idle is None or not route.holds else idle / route.holds


def _holds_idle(route: RouteHolds) -> bool:
    share = route.busy_share
    return (
        share is not None
        and share <= HELD_IDLE_MAX_BUSY_SHARE
        and _idle_per_hold(route) >= HELD_IDLE_MIN_IDLE_SECONDS
    )


def held_idle_routes(summary: PoolSummary | None) -> list[RouteHolds]:
    """The routes that hold their connections idle, the most idle time first."""
    if summary is None:
        return []
    found = [route for route in summary.routes if _holds_idle(route)]
    found.sort(key=lambda route: -(route.idle_seconds or 0.0))
    return found


def held_idle_route(summary: PoolSummary | None) -> RouteHolds | None:
    """The route holding the most connection time idle, if any route holds idle."""
    found = held_idle_routes(summary)
    return found[0] if found else None


def mostly_held_idle(summary: PoolSummary | None) -> bool:
    """Whether most of the time connections were held, they were held idle by routes that
    hold idle: then a bigger pool is not the fix."""
    if summary is None:
        return False
    held = sum(route.held_seconds for route in summary.routes)
    idle = sum(route.idle_seconds or 0.0 for route in held_idle_routes(summary))
    return held > 0 and idle / held >= MOSTLY_IDLE_SHARE


def _route_name(route: RouteHolds) -> str:
    return route.route or "(outside any request)"


def held_idle_cause(summary: PoolSummary | None) -> str | None:
    """The route that holds connections idle and what to do, in words; else None."""
    route = held_idle_route(summary)
    if route is None or route.mean_hold is None:
        return None
    return (
        f"{_route_name(route)} holds its connection {_seconds(route.mean_hold)} per request, "
        f"{format_share(route.busy_share)} of it in statements: close or commit the session "
        "before the outside call, or open it after"
    )


def route_figures(route: RouteHolds) -> str:
    """``120 holds, 520 ms per hold, busy 0.3 %``."""
    return (
        f"{route.holds} holds, {_seconds(route.mean_hold or 0.0)} per hold, "
        f"busy {format_share(route.busy_share)}"
    )


def route_lines(routes: Sequence[RouteHolds]) -> list[str]:
    """``GET /x: 120 holds, 520 ms per hold, busy 0.3 %`` per route."""
    return [f"{_route_name(route)}: {route_figures(route)}" for route in routes]
