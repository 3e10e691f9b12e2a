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

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from poolscope._stacks import Borrower, StackCapture, capture, format_borrower

__all__ = [
    "CheckedOutConnection",
    "Checkout",
    "LeakTracker",
    "log_gc_reclaimed",
    "reclaimed_by_gc",
]

logger = logging.getLogger("poolscope.leaks")

# How often the leak check runs, as a share of the threshold, and its bounds in seconds.
_SCAN_SHARE = 0.25
_SCAN_MIN = 0.01
_SCAN_MAX = 1.0


class Checkout:
    """One connection out of the pool: when, for which route, by whom."""

    __slots__ = ("borrower", "ended", "fairy_ref", "reported", "route", "started")

    def __init__(self, started: float, route: str, fairy_ref: Any = None) -> None:
        self.started = started
        self.route = route
        self.ended = 0.0
        # SQLAlchemy's weak reference to the _ConnectionFairy handed to the borrower: dead
        # when the connection comes back means the garbage collector, not close(), sent it.
        self.fairy_ref = fairy_ref
        self.borrower: Borrower = ()
        self.reported = False


def reclaimed_by_gc(checkout: Checkout) -> bool:
    """Whether the connection of ``checkout`` came back because its borrower was collected."""
    fairy_ref = checkout.fairy_ref
    return fairy_ref is not None and fairy_ref() is None


def log_gc_reclaimed(pool_name: str, checkout: Checkout, connection_record: Any) -> None:
    # detach() (the async path) has already dropped the DBAPI connection by now.
    fate = "returned it to the pool" if connection_record.dbapi_connection else "terminated it"
    logger.warning(
        "Connection of pool %r (route %r) was never closed: the garbage collector %s "
        "after %.1f s. Borrowed at:\n%s",
        pool_name,
        checkout.route,
        fate,
        time.perf_counter() - checkout.started,
        format_borrower(checkout.borrower),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckedOutConnection:
    """A connection checked out now, as ``GET /pool`` lists it."""

    age_seconds: float
    route: str
    borrower: str
    leaked: bool


class LeakTracker:
    """The connections of one pool checked out now; those held past the threshold are
    reported once, from a background thread, and their return is logged too.

    ``checkout_hook`` and ``checkin_hook`` are called by the instrumented pool with the
    :class:`Checkout` of each connection leaving and coming back.
    """

    def __init__(
        self,
        *,
        pool_name: str,
        leak_threshold: float,
        stack_capture: StackCapture = "site",
        count_leak: Callable[[], None],
    ) -> None:
        if not leak_threshold >= 0:
            raise ValueError("leak_threshold must be >= 0 seconds")
        self.pool_name = pool_name
        self.leak_threshold = leak_threshold
        self.stack_capture: StackCapture = stack_capture
        self._count_leak = count_leak
        self._out: dict[Any, Checkout] = {}
        # Taken by a return and by the scanner's report: never a report after a return.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._scanner = threading.Thread(
            target=self._scan_forever,
            args=(min(max(leak_threshold * _SCAN_SHARE, _SCAN_MIN), _SCAN_MAX),),
            name=f"poolscope-leaks-{pool_name}",
            daemon=True,
        )
        self._scanner.start()

    def checkout_hook(self, checkout: Checkout, connection_record: Any) -> None:
        checkout.borrower = capture(self.stack_capture)
        self._out[connection_record] = checkout

    def checkin_hook(self, checkout: Checkout, connection_record: Any) -> None:
        with self._lock:
            if self._out.get(connection_record) is checkout:
                del self._out[connection_record]
        if checkout.reported:
            logger.info(
                "Leaked connection of pool %r (route %r) was returned after %.1f s",
                self.pool_name,
                checkout.route,
                (checkout.ended or time.perf_counter()) - checkout.started,
            )

    def leaked_connections(self) -> int:
        """Connections reported as leaked and still out."""
        return sum(1 for checkout in tuple(self._out.values()) if checkout.reported)

    def scan(self) -> int:
        """Report every connection out past the threshold not reported yet; how many."""
        threshold = self.leak_threshold
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
            self._count_leak()
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
        """Stop checking (the thread ends within one interval)."""
        self._stop.set()
        if self._scanner is not threading.current_thread():
            self._scanner.join()
