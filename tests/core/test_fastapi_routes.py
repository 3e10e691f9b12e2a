"""Checkouts are attributed to the route template of the request, sync and async."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

import poolscope
from poolscope import metrics as names
from poolscope._route_context import current_route
from poolscope.fastapi import RouteMiddleware, instrument_app, route_template


@pytest.fixture
def sync_instrumentation(
    sync_engine: Engine, registry: CollectorRegistry
) -> Iterator[poolscope.Instrumentation]:
    instrumentation = poolscope.instrument(
        sync_engine, pool="routes", registry=registry, leak_threshold=None
    )
    yield instrumentation
    instrumentation.close()


@pytest.fixture
async def async_instrumentation(
    async_engine: AsyncEngine, registry: CollectorRegistry
) -> AsyncIterator[poolscope.Instrumentation]:
    instrumentation = poolscope.instrument(
        async_engine, pool="routes", registry=registry, leak_threshold=None
    )
    yield instrumentation
    instrumentation.close()


def use_time_routes(registry: CollectorRegistry) -> dict[str, float]:
    """Observations of use_time per route label."""
    return {
        sample.labels[names.ROUTE_LABEL]: sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == f"{names.CONNECTION_USE_TIME}_count"
    }


def routes_seen_at_checkout(instrumentation: poolscope.Instrumentation) -> list[str]:
    return [connection.route for connection in instrumentation.checked_out()]


async def get_json(app: Starlette, path: str, method: str = "GET") -> object:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.request(method, path)
    return response.json()


async def test_sync_endpoint_in_the_thread_pool_checks_out_under_its_template(
    sync_engine: Engine,
    sync_instrumentation: poolscope.Instrumentation,
    registry: CollectorRegistry,
) -> None:
    app = FastAPI()
    instrument_app(app)

    @app.get("/users/{user_id}/orders/{order_id}")
    def order(user_id: int, order_id: int) -> list[str]:
        with sync_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            return routes_seen_at_checkout(sync_instrumentation)

    assert await get_json(app, "/users/5/orders/981") == ["/users/{user_id}/orders/{order_id}"]
    assert await get_json(app, "/users/6/orders/982") == ["/users/{user_id}/orders/{order_id}"]
    assert use_time_routes(registry) == {"/users/{user_id}/orders/{order_id}": 2.0}


async def test_async_endpoint_checks_out_under_its_template(
    async_engine: AsyncEngine,
    async_instrumentation: poolscope.Instrumentation,
    registry: CollectorRegistry,
) -> None:
    app = FastAPI()
    instrument_app(app)

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> list[str]:
        async with async_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            return routes_seen_at_checkout(async_instrumentation)

    assert await get_json(app, "/users/123") == ["/users/{user_id}"]
    async with async_engine.connect() as connection:  # outside any request
        await connection.execute(text("SELECT 1"))
    assert use_time_routes(registry) == {"/users/{user_id}": 1.0, "": 1.0}


async def test_checkouts_outside_a_request_have_no_route(
    sync_engine: Engine, sync_instrumentation: poolscope.Instrumentation
) -> None:
    with sync_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        assert routes_seen_at_checkout(sync_instrumentation) == [""]


async def test_included_routers_mounts_and_unknown_paths_give_bounded_templates() -> None:
    def route_name(request: Request) -> PlainTextResponse:
        return PlainTextResponse(current_route.get())

    router = APIRouter(prefix="/api")

    @router.get("/things/{thing_id}")
    def thing(thing_id: int) -> str:
        return current_route.get()

    @router.post("/things")
    def create() -> str:
        return current_route.get()

    inner = Starlette(routes=[Route("/files/{name:path}", route_name)])
    versioned = APIRouter()
    versioned.include_router(router, prefix="/v1")
    app = FastAPI()
    app.include_router(router)
    app.include_router(versioned, prefix="/public")
    app.mount("/static", inner)
    instrument_app(app)

    assert await get_json(app, "/api/things/9") == "/api/things/{thing_id}"
    assert await get_json(app, "/public/v1/api/things/8") == "/public/v1/api/things/{thing_id}"
    assert await get_json(app, "/api/things", method="POST") == "/api/things"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        mounted = await client.get("/static/files/a/b.txt")
    assert mounted.text == "/static/files/{name}"

    def template(method: str, path: str) -> str:
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
        return route_template(app.router.routes, scope)

    # A wrong method is still answered by that route (405): its template, not the path.
    assert template("GET", "/api/things") == "/api/things"
    assert template("GET", "/no/such/path/123") == ""
    assert template("GET", "/public/v1/api/things/77") == "/public/v1/api/things/{thing_id}"

    # The middleware's flattened table picks what walking the routes picks.
    middleware = RouteMiddleware(app)
    for method, path in [
        ("GET", "/api/things/9"),
        ("GET", "/api/things"),
        ("POST", "/api/things"),
        ("GET", "/public/v1/api/things/77"),
        ("GET", "/static/files/x"),
        ("GET", "/docs"),
        ("GET", "/no/such/path/123"),
    ]:
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
        assert middleware._template(app.router.routes, scope) == template(method, path)


async def test_plain_starlette_app_takes_the_middleware() -> None:
    async def who(request: Request) -> JSONResponse:
        return JSONResponse(current_route.get())

    app = Starlette(routes=[Route("/who/{name}", who)])
    instrument_app(app)
    instrument_app(app)
    assert len(app.user_middleware) == 1
    assert await get_json(app, "/who/alice") == "/who/{name}"
    assert current_route.get() == ""
