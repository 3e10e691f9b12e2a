"""poolscope inside an app nobody here wrote: the app answers exactly as without it.

The app is written like FastAPI's full-stack template (tests/support/template_app.py),
whose ``generate_unique_id_function`` raises on a route without tags; poolscope is added
by the README's own-service recipe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine

import poolscope.fastapi
import poolscope.fastapi._routes
from poolscope import metrics as names
from poolscope import url_for_driver
from poolscope.fastapi import RouteMiddleware
from tests.support.in_process import started
from tests.support.template_app import API_V1, create_app

# What a user of the template's API does, in order: reads, writes, errors of each kind.
REQUESTS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", f"{API_V1}/utils/health-check/", None),
    ("GET", f"{API_V1}/items/", None),
    ("POST", f"{API_V1}/items/", {"title": "first", "description": "one"}),
    ("POST", f"{API_V1}/items/", {"title": "second"}),
    ("POST", f"{API_V1}/items/", {"title": ""}),
    ("GET", f"{API_V1}/items/?skip=1&limit=5", None),
    ("GET", f"{API_V1}/items/1", None),
    ("GET", f"{API_V1}/items/999", None),
    ("GET", f"{API_V1}/items/not-a-number", None),
    ("DELETE", f"{API_V1}/items/2", None),
    ("PUT", f"{API_V1}/items/1", None),
    ("GET", f"{API_V1}/no/such/route", None),
    ("GET", f"{API_V1}/openapi.json", None),
]

# The lifespan's create_all checks out outside any request: no route.
ROUTES_USED = {f"{API_V1}/items/", f"{API_V1}/items/{{id}}", ""}


@pytest.fixture(scope="module")
def template_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(url_for_driver(database_url, "psycopg"))
    yield engine
    engine.dispose()


async def answers(
    app: FastAPI, requests: list[tuple[str, str, dict[str, object] | None]] = REQUESTS
) -> list[tuple[int, str]]:
    async with started(app) as client:
        return [
            ((r := await client.request(method, path, json=body)).status_code, r.text)
            for method, path, body in requests
        ]


def routes_used(registry: CollectorRegistry) -> set[str]:
    """Route labels of the connections the requests used."""
    return {
        sample.labels[names.ROUTE_LABEL]
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == f"{names.CONNECTION_USE_TIME}_count" and sample.value > 0
    }


@pytest.fixture(scope="module")
def without_poolscope(template_engine: Engine) -> list[tuple[int, str]]:
    return asyncio.run(answers(create_app(template_engine)))


async def test_the_recipe_changes_no_answer_and_labels_every_route(
    template_engine: Engine, without_poolscope: list[tuple[int, str]]
) -> None:
    registry = CollectorRegistry()
    app = create_app(template_engine, registry=registry)
    try:
        assert await answers(app) == without_poolscope
        # The app itself answers (the comparison holds nothing of two failing apps), and
        # its own schema is unchanged: GET /pool stays out of it.
        statuses = [status for status, _ in without_poolscope]
        assert statuses == [200, 200, 200, 200, 422, 200, 200, 404, 422, 200, 405, 404, 200]
        assert routes_used(registry) == ROUTES_USED
        async with started(app) as client:
            pool = await client.get("/pool")
        assert pool.status_code == 200
        assert pool.json()["leak_threshold"] == 5
    finally:
        app.state.instrumentation.close()


async def test_a_route_table_that_cannot_be_built_fails_no_request(
    template_engine: Engine,
    without_poolscope: list[tuple[int, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The app: an untagged GET /pool makes the template's naming function raise
    # while poolscope flattens the routes, on every request. (FastAPI itself raises too,
    # on a request whose search reaches that route, an unknown path or method, and on
    # building the OpenAPI schema.)
    registry = CollectorRegistry()
    app = create_app(template_engine, registry=registry, pool_router_tags=[])
    routed = [
        (i, request)
        for i, request in enumerate(REQUESTS)
        if request[0] != "PUT" and not request[1].endswith(("/no/such/route", "openapi.json"))
    ]
    try:
        with caplog.at_level(logging.WARNING, logger="poolscope"):
            got = await answers(app, [request for _, request in routed])
        assert got == [without_poolscope[i] for i, _ in routed]
        # The routes are still found one by one.
        assert routes_used(registry) == ROUTES_USED
    finally:
        app.state.instrumentation.close()
    warnings = [r for r in caplog.records if r.name.startswith("poolscope")]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "IndexError" in warnings[0].getMessage()
    assert warnings[0].exc_info is not None


def test_labelling_resumes_once_the_route_table_can_be_built(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(poolscope.fastapi._routes, "_RETRY_FIRST", 0.0)
    ready = False

    def unique_id(route: APIRoute) -> str:
        if not ready and route.name == "late":
            raise RuntimeError("settings not loaded yet")
        return route.name

    router = APIRouter(prefix="/api")

    @router.get("/things/{thing_id}")
    def thing(thing_id: int) -> None:
        pass

    @router.get("/late")
    def late() -> None:
        pass

    app = FastAPI(generate_unique_id_function=unique_id)
    app.include_router(router)
    middleware = RouteMiddleware(app)
    scope = {"type": "http", "method": "GET", "path": "/api/things/3", "root_path": ""}
    scope["headers"] = []
    with caplog.at_level(logging.DEBUG, logger="poolscope"):
        # FastAPI prepares the router's routes together: not even this one is found.
        for _ in range(3):
            assert middleware._route_of({**scope, "app": app}) == ""
        assert middleware._table is None
        ready = True
        assert middleware._route_of({**scope, "app": app}) == "/api/things/{thing_id}"
    assert middleware._table is not None
    levels = [r.levelno for r in caplog.records if r.name == "poolscope.fastapi"]
    assert levels[0] == logging.WARNING
    assert set(levels[1:]) == {logging.DEBUG}


def test_pool_router_is_tagged_and_out_of_the_schema_unless_asked(
    template_engine: Engine,
) -> None:
    instrumentation = poolscope.instrument(
        template_engine, pool="schema", registry=CollectorRegistry()
    )
    try:
        hidden = FastAPI()
        hidden.include_router(poolscope.fastapi.pool_router(instrumentation))
        shown = FastAPI()
        shown.include_router(poolscope.fastapi.pool_router(instrumentation, include_in_schema=True))
        assert "/pool" not in hidden.openapi()["paths"]
        assert shown.openapi()["paths"]["/pool"]["get"]["tags"] == ["poolscope"]
    finally:
        instrumentation.close()
