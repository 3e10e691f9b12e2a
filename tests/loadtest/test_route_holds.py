"""Per route hold time and busy share, read back from a real instrumented engine's
/metrics the way ``poolscope run`` reads them, and the held-idle diagnosis on them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from poolscope import instrument
from poolscope._route_context import attribute_routes, current_route
from poolscope._urls import url_for_driver
from poolscope.readings import (
    TimedSnapshot,
    held_idle_cause,
    mostly_held_idle,
    parse_metrics,
    summarize_pool,
)

OUTSIDE_CALL = 0.3


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(url_for_driver(database_url, "psycopg2"), pool_size=2)
    with engine.connect():
        pass
    yield engine
    engine.dispose()


def serve(engine: Engine, route: str, work: str) -> None:
    """One request of ``route``: a session across an outside call, or queries only."""
    token = current_route.set(route)
    try:
        with Session(engine) as session:
            if work == "across":
                session.execute(text("select 1"))
                time.sleep(OUTSIDE_CALL)  # the outside call, session still open
            else:
                session.execute(text("select pg_sleep(0.05)"))
    finally:
        current_route.reset(token)


def test_routes_hold_time_busy_share_and_the_route_held_idle_is_named(
    engine: Engine, registry: CollectorRegistry
) -> None:
    instrument(engine, pool="routes", registry=registry)
    attribute_routes()
    serve(engine, "GET /warm", "query")
    baseline = parse_metrics(generate_latest(registry).decode())
    for _ in range(3):
        serve(engine, "POST /memories", "across")
        serve(engine, "GET /items", "query")
    last = parse_metrics(generate_latest(registry).decode())
    summary = summarize_pool(baseline, [TimedSnapshot(t=1.0, snapshot=last)])
    assert summary is not None
    by_route = {route.route: route for route in summary.routes}
    # Only what the run saw: the warm-up request before the baseline is not in it.
    assert set(by_route) == {"POST /memories", "GET /items"}
    across, query = by_route["POST /memories"], by_route["GET /items"]
    assert (across.holds, query.holds) == (3, 3)
    assert across.mean_hold is not None
    assert across.mean_hold == pytest.approx(OUTSIDE_CALL, rel=0.1)
    assert across.busy_share is not None
    assert across.busy_share < 0.05
    assert query.busy_share is not None
    assert query.busy_share > 0.5
    assert (across.statements, query.statements) == (3, 3)
    assert summary.idle is not None
    assert summary.idle.count == 6
    assert summary.idle.max_exact
    assert summary.idle.max == pytest.approx(OUTSIDE_CALL, rel=0.1)
    cause = held_idle_cause(summary)
    assert cause is not None
    assert re.match(r"POST /memories holds its connection 3\d\d ms per request, \d\.\d % of", cause)
    assert "in statements: close or commit the session before the outside call" in cause
    assert mostly_held_idle(summary)


def test_a_pool_busy_in_statements_names_no_route(
    engine: Engine, registry: CollectorRegistry
) -> None:
    instrument(engine, pool="busy", registry=registry)
    attribute_routes()
    baseline = parse_metrics(generate_latest(registry).decode())
    for _ in range(3):
        serve(engine, "GET /items", "query")
    last = parse_metrics(generate_latest(registry).decode())
    summary = summarize_pool(baseline, [TimedSnapshot(t=1.0, snapshot=last)])
    assert held_idle_cause(summary) is None
    assert not mostly_held_idle(summary)
