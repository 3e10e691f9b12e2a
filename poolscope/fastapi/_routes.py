"""Route matching: the route template of the request a checkout is made for
(``/items/{item_id}``, never ``/items/42``), found before the router picks the route.

``instrument_app(app)`` adds :class:`RouteMiddleware`, which finds the route the router is
about to pick and sets :data:`poolscope._route_context.current_route` for the rest of the
request. Sync endpoints run in Starlette's thread pool with a copy of that context and
async endpoints run in it, so both are attributed; checkouts outside a request get ``""``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Host, Match, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from poolscope._route_context import attribute_routes, current_route
from poolscope.fastapi._starlette import get_route_path

__all__ = ["RouteMiddleware", "instrument_app", "route_template"]

logger = logging.getLogger("poolscope.fastapi")

# After the route table could not be built, how long before the next try: doubling from
# the first to the last, so an app whose routes can never be flattened costs a try every
# few minutes, and one fixed at run time (a route added late) is labelled again soon.
_RETRY_FIRST = 1.0
_RETRY_LAST = 300.0


def instrument_app(app: Any) -> None:
    """Attribute the pool checkouts made while serving ``app``'s requests to their route.

    ``app`` is a FastAPI or Starlette application, before it starts serving. Calling it
    again on the same app changes nothing.
    """
    if not any(middleware.cls is RouteMiddleware for middleware in app.user_middleware):
        app.add_middleware(RouteMiddleware)


class RouteMiddleware:
    """ASGI middleware: sets the current route template around each HTTP/WebSocket request.

    It matches the request against the application's routes the way Starlette's router
    will, once more, before the router does: the router only records its match after
    every middleware has run. The routes are flattened once into a table of path patterns
    (included routers too), so a request costs a few regular-expression matches rather
    than a second pass through the router.

    It never fails a request: flattening runs FastAPI's code for every route (an app's
    ``generate_unique_id_function`` among it), which may raise where serving the one
    route asked for would not. Then the error is logged once with its cause, requests are
    matched route by route, or served unlabelled (``""``) when that fails too, and the
    table is tried again later.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        attribute_routes()
        self._table: tuple[tuple[int, int], list[_Entry]] | None = None
        # While the table cannot be built: when to try again, and the wait after that.
        self._retry_at = 0.0
        self._retry_wait = _RETRY_FIRST
        self._logged = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = current_route.set(self._route_of(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            current_route.reset(token)

    def _route_of(self, scope: Scope) -> str:
        try:
            router = getattr(scope.get("app"), "router", None)
            routes = getattr(router, "routes", None)
            return self._template(routes, scope) if routes else ""
        except Exception as error:
            self._failed("finding the route of a request", error)
            return ""

    def _template(self, routes: list[BaseRoute], scope: Scope) -> str:
        key = (id(routes), len(routes))
        table = self._table
        if table is None or table[0] != key:
            table = self._build(key, routes)
            if table is None:
                return route_template(routes, scope)
        # Nothing found: maybe a route added since the table was built; ask the routes.
        return _lookup(table[1], scope) or route_template(routes, scope)

    def _build(
        self, key: tuple[int, int], routes: list[BaseRoute]
    ) -> tuple[tuple[int, int], list[_Entry]] | None:
        now = time.monotonic()
        if now < self._retry_at:
            return None
        try:
            table = self._table = (key, _flatten(routes))
        except Exception as error:
            self._table = None
            self._retry_at = now + self._retry_wait
            self._retry_wait = min(self._retry_wait * 2, _RETRY_LAST)
            self._failed("building the route table", error)
            return None
        self._retry_wait = _RETRY_FIRST
        return table

    def _failed(self, doing: str, error: Exception) -> None:
        """Logged once per middleware with its traceback; later ones at DEBUG."""
        first, self._logged = not self._logged, True
        logger.log(
            logging.WARNING if first else logging.DEBUG,
            "poolscope could not label requests with their route (%s: %s: %s); "
            "requests are served unlabelled where the route cannot be found, and the "
            "route table is tried again later",
            doing,
            type(error).__name__,
            error,
            exc_info=error if first else None,
        )


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A route reduced to what selecting it takes: Starlette's own compiled pattern."""

    regex: re.Pattern[str]
    methods: Collection[str] | None
    scope_type: str
    template: str


# A pattern, or a route asked the slow way (mounts, hosts, anything unusual).
_Entry = _Pattern | BaseRoute

_PLAIN_ROUTES = (Route, WebSocketRoute, APIRoute, APIWebSocketRoute)


def _flatten(routes: Iterable[BaseRoute]) -> list[_Entry]:
    entries: list[_Entry] = []
    for route in routes:
        if type(route) in _PLAIN_ROUTES:
            assert isinstance(route, Route | WebSocketRoute)
            http = isinstance(route, Route)
            methods = route.methods if isinstance(route, Route) else None
            entries.append(
                _Pattern(
                    route.path_regex, methods, "http" if http else "websocket", route.path_format
                )
            )
        else:
            entries.extend(_flatten_included(route) or [route])
    return entries


def _flatten_included(route: Any) -> list[_Entry] | None:
    """FastAPI >= 0.16x's included router as patterns with their prefixed templates, or
    None when it holds anything but plain API routes (then it is asked as a whole)."""
    candidates = getattr(route, "effective_candidates", None)
    if not callable(candidates) or getattr(route.original_router, "_low_priority_routes", None):
        return None
    entries: list[_Entry] = []
    for candidate in candidates():
        if callable(getattr(candidate, "effective_candidates", None)):
            nested = _flatten_included(candidate)
            if nested is None:
                return None
            entries.extend(nested)
        elif type(getattr(candidate, "original_route", None)) is APIRoute:
            methods = candidate.methods or None
            entries.append(_Pattern(candidate.path_regex, methods, "http", candidate.path_format))
        else:
            return None
    return entries


def _lookup(entries: list[_Entry], scope: Scope) -> str:
    route_path = get_route_path(scope)
    scope_type = scope["type"]
    method = scope.get("method")
    partial: str | tuple[BaseRoute, Scope] | None = None
    for entry in entries:
        if type(entry) is _Pattern:
            if entry.scope_type != scope_type or entry.regex.match(route_path) is None:
                continue
            if entry.methods and method not in entry.methods:
                partial = partial or entry.template
                continue
            return entry.template
        assert isinstance(entry, BaseRoute)
        match, child_scope = entry.matches(scope)
        if match is Match.FULL:
            return _template(entry, {**scope, **child_scope})
        if match is Match.PARTIAL and partial is None:
            partial = (entry, {**scope, **child_scope})
    if isinstance(partial, tuple):
        return _template(*partial)
    return partial or ""


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
