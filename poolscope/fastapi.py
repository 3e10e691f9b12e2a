"""Per-route attribution for FastAPI and Starlette: each checkout is tagged with the route
template of the request that made it (``/items/{item_id}``, never ``/items/42``).

``instrument_app(app)`` adds :class:`RouteMiddleware`, which finds the route the router is
about to pick and sets :data:`poolscope._route_context.current_route` for the rest of the
request. Sync endpoints run in Starlette's thread pool with a copy of that context and
async endpoints run in it, so both are attributed; checkouts outside a request get ``""``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Host, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from poolscope._route_context import current_route

__all__ = ["RouteMiddleware", "instrument_app", "route_template"]


def instrument_app(app: Any) -> None:
    """Attribute the pool checkouts made while serving ``app``'s requests to their route.

    ``app`` is a FastAPI or Starlette application, before it starts serving.
    """
    app.add_middleware(RouteMiddleware)


class RouteMiddleware:
    """ASGI middleware: sets the current route template around each HTTP/WebSocket request.

    It matches the request against the application's routes the way Starlette's router
    will, once more, before the router does (a few µs): the router only records its match
    after every middleware has run.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        router = getattr(scope.get("app"), "router", None)
        routes = getattr(router, "routes", ())
        token = current_route.set(route_template(routes, scope))
        try:
            await self.app(scope, receive, send)
        finally:
            current_route.reset(token)


def route_template(routes: Iterable[BaseRoute], scope: Scope) -> str:
    """The template of the route ``scope`` goes to (``""`` when none), mounts included.

    A route that matches the path but not the method still names the route: that
    request is answered by it (405), and its template is as bounded as any other.
    """
    partial: tuple[BaseRoute, Scope] | None = None
    for route in routes:
        match, child_scope = route.matches(scope)
        if match is Match.FULL:
            return _template(route, {**scope, **child_scope})
        if match is Match.PARTIAL and partial is None:
            partial = (route, {**scope, **child_scope})
    if partial is not None:
        return _template(*partial)
    return ""


def _template(route: Any, scope: Scope) -> str:
    if callable(getattr(route, "_match", None)):
        return _included_template(route, scope)
    if isinstance(route, Mount):
        inner = route_template(route.routes, scope) if route.routes else ""
        return route.path + inner
    if isinstance(route, Host):
        return route_template(route.routes, scope)
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else ""


def _included_template(included: Any, scope: Scope) -> str:
    """FastAPI >= 0.16x keeps an included router whole (``_IncludedRouter``) and resolves
    the prefixed path of its routes only while matching; ask it the way its router does."""
    _, child_scope, route, context = included._match(scope)
    scope = {**scope, **child_scope}
    if route is None:
        return ""
    if callable(getattr(route, "_match", None)):
        return _included_template(route, scope)
    template = getattr(getattr(context, "starlette_route", None), "path_format", None) or getattr(
        context, "path_format", None
    )
    if not isinstance(template, str):
        return _template(route, scope)
    if isinstance(route, Mount):
        inner = route_template(route.routes, scope) if route.routes else ""
        return template.removesuffix("/{path}") + inner
    return template
