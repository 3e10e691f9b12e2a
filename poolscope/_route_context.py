"""The route of the request being served, read at checkout to label use_time and leaks."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["attribute_routes", "attributed", "current_route"]

# A route template ("/items/{item_id}"), never a raw path: it becomes a label value.
# "" outside a request.
current_route: ContextVar[str] = ContextVar("poolscope_route", default="")

# Whether any application sets current_route: until one does, checkouts skip reading it.
attributed = False


def attribute_routes() -> None:
    """Start reading the route at every checkout (the route middleware calls this)."""
    global attributed
    attributed = True
