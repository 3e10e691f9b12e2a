"""Connections checked out now, leak detection after a threshold (HikariCP's
``leakDetectionThreshold``) and connections the garbage collector took back.

A :class:`LeakTracker` keeps one :class:`Checkout` per connection out of the pool. A
background thread (only when a threshold is set) reports each connection held past the
threshold once, with the route and the borrower's stack, and the return of a reported
connection is logged too. A connection whose ``_ConnectionFairy`` was garbage collected
without ``close()`` is counted in ``gc_reclaimed``: a sync pool checks it in (the checkin
event fires with the fairy already gone), an async pool terminates and detaches it (the
detach event fires, never checkin).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from poolscope import _names
from poolscope._route_context import current_route
from poolscope._stacks import Borrower, StackCapture, capture, format_borrower

__all__ = ["CheckedOutConnection", "Checkout", "LeakMetrics", "LeakTracker"]

logger = logging.getLogger("poolscope.leaks")

# How often the leak check runs, as a share of the threshold, and its bounds in seconds.
_SCAN_SHARE = 0.25
_SCAN_MIN = 0.01
_SCAN_MAX = 1.0


class Checkout:
    """One connection out of the pool: when, for which route, by whom."""

    __slots__ = ("borrower", "fairy_ref", "reported", "route", "started")

    def __init__(self, *, started: float, route: str, borrower: Borrower, fairy_ref: Any) -> None:
        self.started = started
        self.route = route
        self.borrower = borrower
        # SQLAlchemy's weak reference to the _ConnectionFairy handed to the borrower: dead
        # at checkin/detach time means the garbage collector, not close(), returned it.
        self.fairy_ref = fairy_ref
        self.reported = False


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckedOutConnection:
    """A connection checked out now, as ``GET /pool`` lists it."""

    age_seconds: float
    route: str
    borrower: str
    leaked: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class LeakMetrics:
    """The leak and gc series of one registry (declared once per registry)."""

    leaks: Counter
    leaked: Gauge
    gc_reclaimed: Counter

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> LeakMetrics:
        with _metrics_lock:
            found = _metrics.get(registry)
            if found is None:
                found = _metrics[registry] = cls(
                    leaks=Counter(
                        _names.POOL_LEAKS,
                        "Connections reported held longer than the leak threshold.",
                        [_names.POOL_LABEL],
                        registry=registry,
                    ),
                    leaked=Gauge(
                        _names.POOL_LEAKED_CONNECTIONS,
                        "Connections held longer than the leak threshold, still out.",
                        [_names.POOL_LABEL],
                        registry=registry,
                        multiprocess_mode="livesum",
                    ),
                    gc_reclaimed=Counter(
                        _names.POOL_GC_RECLAIMED,
                        "Connections the garbage collector returned (sync) or terminated "
                        "(async) because their borrower never closed them.",
                        [_names.POOL_LABEL],
                        registry=registry,
                    ),
                )
            return found


_metrics: weakref.WeakKeyDictionary[CollectorRegistry, LeakMetrics] = weakref.WeakKeyDictionary()
_metrics_lock = threading.Lock()


class LeakTracker:
    """Checked-out connections of one pool, their leaks and their garbage collection."""

    def __init__(
        self,
        *,
        pool_name: str,
        registry: CollectorRegistry,
        leak_threshold: float | None,
        stack_capture: StackCapture = "site",
    ) -> None:
        if leak_threshold is not None and leak_threshold < 0:
            raise ValueError("leak_threshold must be None (off) or >= 0 seconds")
        self.pool_name = pool_name
        self.leak_threshold = leak_threshold
        # Without a threshold there is nothing to report a stack in.
        self.stack_capture: StackCapture = stack_capture if leak_threshold is not None else "off"
        self._out: dict[Any, Checkout] = {}
        self._lock = threading.Lock()
        self._metrics = LeakMetrics.for_registry(registry)
        self._leaks = self._metrics.leaks.labels(pool_name)
        self._leaked = self._metrics.leaked.labels(pool_name)
        self._gc_reclaimed = self._metrics.gc_reclaimed.labels(pool_name)
        self._stop = threading.Event()
        self._scanner: threading.Thread | None = None
        if leak_threshold is not None:
            self._scanner = threading.Thread(
                target=self._scan_forever,
                args=(min(max(leak_threshold * _SCAN_SHARE, _SCAN_MIN), _SCAN_MAX),),
                name=f"poolscope-leaks-{pool_name}",
                daemon=True,
            )
            self._scanner.start()

    # Pool events, with their signatures.

    def checkout(
        self, dbapi_connection: Any, connection_record: Any, connection_proxy: Any
    ) -> None:
        self._out[connection_record] = Checkout(
            started=time.perf_counter(),
            route=current_route.get(),
            borrower=capture(self.stack_capture),
            fairy_ref=connection_record.fairy_ref,
        )

    def checkin(self, dbapi_connection: Any, connection_record: Any) -> None:
        self.returned(connection_record, "returned to the pool")

    def detach(self, dbapi_connection: Any, connection_record: Any) -> None:
        self.returned(connection_record, "terminated")

    def returned(self, connection_record: Any, fate: str) -> Checkout | None:
        """Forget the checkout of ``connection_record``; report its leak or gc if any."""
        if self.leak_threshold is None:
            checkout = self._out.pop(connection_record, None)
        else:
            # Held with the scanner's, so a leak is never reported after its return.
            with self._lock:
                checkout = self._out.pop(connection_record, None)
        if checkout is None:
            return None
        if checkout.reported:
            self._leaked.dec()
            logger.info(
                "Leaked connection of pool %r (route %r) was returned after %.1f s",
                self.pool_name,
                checkout.route,
                time.perf_counter() - checkout.started,
            )
        if checkout.fairy_ref is not None and checkout.fairy_ref() is None:
            self._gc_reclaimed.inc()
            logger.warning(
                "Connection of pool %r (route %r) was never closed: the garbage collector "
                "%s it after %.1f s. Borrowed at:\n%s",
                self.pool_name,
                checkout.route,
                fate,
                time.perf_counter() - checkout.started,
                format_borrower(checkout.borrower),
            )
        return checkout

    # Leak checks.

    def scan(self) -> int:
        """Report every connection out past the threshold not reported yet; how many."""
        threshold = self.leak_threshold
        if threshold is None:
            return 0
        found = 0
        now = time.perf_counter()
        for record, checkout in tuple(self._out.items()):
            held = now - checkout.started
            if checkout.reported or held < threshold:
                continue
            with self._lock:
                if self._out.get(record) is not checkout:
                    continue
                checkout.reported = True
                self._leaks.inc()
                self._leaked.inc()
            found += 1
            logger.warning(
                "Connection leak on pool %r: a connection has been checked out for %.1f s "
                "(leak threshold %g s) by route %r. Borrowed at:\n%s",
                self.pool_name,
                held,
                threshold,
                checkout.route,
                format_borrower(checkout.borrower),
            )
        return found

    def _scan_forever(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.scan()
            except Exception:  # the application must never pay for a poolscope bug
                logger.exception("poolscope leak check failed")

    def checked_out(self) -> list[CheckedOutConnection]:
        """Connections checked out now, oldest first."""
        now = time.perf_counter()
        listing = [
            CheckedOutConnection(
                age_seconds=now - checkout.started,
                route=checkout.route,
                borrower=format_borrower(checkout.borrower[:1]) if checkout.borrower else "",
                leaked=checkout.reported,
            )
            for checkout in tuple(self._out.values())
        ]
        listing.sort(key=lambda connection: connection.age_seconds, reverse=True)
        return listing

    def close(self) -> None:
        """Stop checking and remove this pool's leak and gc series."""
        self._stop.set()
        if self._scanner is not None and self._scanner is not threading.current_thread():
            self._scanner.join()
        for metric in (self._metrics.leaks, self._metrics.leaked, self._metrics.gc_reclaimed):
            with contextlib.suppress(KeyError):
                metric.remove(self.pool_name)


def track(
    engine: Any,
    *,
    pool_name: str,
    registry: CollectorRegistry,
    leak_threshold: float | None,
    stack_capture: StackCapture = "site",
) -> LeakTracker:
    """A tracker listening to ``engine``'s pool on its own (sync ``Engine`` or
    ``AsyncEngine``); its ``close()`` also removes the listeners."""
    from sqlalchemy import event

    target = getattr(engine, "sync_engine", engine)
    tracker = _ListeningTracker(
        pool_name=pool_name,
        registry=registry,
        leak_threshold=leak_threshold,
        stack_capture=stack_capture,
    )
    tracker.target = target
    for name in _EVENTS:
        event.listen(target, name, getattr(tracker, name))
    return tracker


_EVENTS = ("checkout", "checkin", "detach")


class _ListeningTracker(LeakTracker):
    target: Any

    def close(self) -> None:
        from sqlalchemy import event

        for name in _EVENTS:
            event.remove(self.target, name, getattr(self, name))
        super().close()
