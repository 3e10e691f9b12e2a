"""Per-route attribution for FastAPI and Starlette, ``GET /pool``, and the thread pool's
gauges: poolscope's bridge to the FastAPI the service already has.

- ``instrument_app(app)``: each checkout is tagged with the route template of the request
  that made it (``/items/{item_id}``, never ``/items/42``);
- ``pool_router(instrumentation)``: serves a pool's state and checked-out connections;
- ``instrument_threadpool()``: exports the thread pool sync endpoints run in (busy
  threads, the limit, calls waiting for a thread), which tells thread starvation
  (fastapi/fastapi#3205) from pool exhaustion.
"""

from __future__ import annotations

from poolscope.fastapi._pool_router import pool_answer, pool_router
from poolscope.fastapi._routes import RouteMiddleware, instrument_app, route_template
from poolscope.fastapi._threadpool import ThreadPoolCollector, instrument_threadpool

__all__ = [
    "RouteMiddleware",
    "ThreadPoolCollector",
    "instrument_app",
    "instrument_threadpool",
    "pool_answer",
    "pool_router",
    "route_template",
]
