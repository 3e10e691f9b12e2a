"""Until poolscope.instrument() carries leak detection: the tracker on plain pool events."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import event

from poolscope import _names
from poolscope._leaks import (
    CHECKOUT_KEY,
    Checkout,
    LeakTracker,
    log_gc_reclaimed,
    reclaimed_by_gc,
)
from poolscope._route_context import current_route
from poolscope._stacks import StackCapture, _internal

KEY = CHECKOUT_KEY
# These listeners stand in for poolscope's pool: not the borrower.
_internal[__file__] = True


class Tracked:
    def __init__(
        self,
        engine: Any,
        *,
        pool_name: str,
        registry: CollectorRegistry,
        leak_threshold: float | None,
        stack_capture: StackCapture = "site",
    ) -> None:
        self.target = getattr(engine, "sync_engine", engine)
        self.pool_name = pool_name
        label = {_names.POOL_LABEL: pool_name}
        self.leaks = Counter(_names.POOL_LEAKS, "", list(label), registry=registry)
        self.gc = Counter(_names.POOL_GC_RECLAIMED, "", list(label), registry=registry)
        leaked = Gauge(_names.POOL_LEAKED_CONNECTIONS, "", list(label), registry=registry)
        self.leaks.labels(pool_name)
        self.gc.labels(pool_name)
        self.tracker = LeakTracker(
            pool_name=pool_name,
            leak_threshold=leak_threshold,
            stack_capture=stack_capture,
            count_leak=self.leaks.labels(pool_name).inc,
        )
        leaked.labels(pool_name).set_function(self.tracker.leaked_connections)
        event.listen(self.target, "connect", self.tracker.connect)
        for name in ("checkout", "checkin", "detach"):
            event.listen(self.target, name, getattr(self, name))

    def checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checkout = record.info[KEY] = Checkout(
            time.perf_counter(), current_route.get(), record.fairy_ref
        )
        hook = self.tracker.checkout_hook
        if hook is not None:
            hook(checkout, record)

    def checkin(self, dbapi_connection: Any, record: Any) -> None:
        checkout = record.info.pop(KEY, None)
        if checkout is None:
            return
        checkout.ended = time.perf_counter()
        if reclaimed_by_gc(checkout):
            self.gc.labels(self.pool_name).inc()
            log_gc_reclaimed(self.pool_name, checkout, record)

    detach = checkin

    def checked_out(self) -> Any:
        return self.tracker.checked_out()

    def scan(self) -> int:
        return self.tracker.scan()

    def close(self) -> None:
        event.remove(self.target, "connect", self.tracker.connect)
        for name in ("checkout", "checkin", "detach"):
            event.remove(self.target, name, getattr(self, name))
        self.tracker.close()


track = Tracked
