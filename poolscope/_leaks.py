"""Connections checked out now, leak detection after a threshold (HikariCP's
``leakDetectionThreshold``) and connections the garbage collector took back.

The pool keeps one :class:`Checkout` per pooled connection, on its record.
:class:`LeakTracker` lists them and reports those held past the threshold. A connection
whose ``_ConnectionFairy`` was garbage collected without ``close()`` comes back through
the pool all the same (a sync pool resets and checks it in; an async pool terminates and
detaches it): the pool tells from the fairy's weak reference that nobody closed it, and
:func:`log_gc_reclaimed` says so.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from poolscope._holds import Hold
from poolscope._stacks import (
    STACK_CAPTURES,
    Borrower,
    StackCapture,
    capture_full,
    capture_site,
    format_borrower,
    format_site,
)

__all__ = [
    "CHECKOUT_ATTRIBUTE",
    "CheckedOutConnection",
    "Checkout",
    "LeakTracker",
    "log_gc_reclaimed",
]

logger = logging.getLogger("poolscope.leaks")

# How often the leak check runs, as a share of the threshold, and its bounds in seconds.
_SCAN_SHARE = 0.25
_SCAN_MIN = 0.01
_SCAN_MAX = 1.0


# The attribute of each pooled connection's record that holds its Checkout. An attribute,
# not ``connection_record.info``: a dictionary lookup more, twice per checkout+checkin,
# on the path whose every instruction counts.
CHECKOUT_ATTRIBUTE = "poolscope_checkout"


class CheckinMeasurements(Protocol):
    """What a checkin asks of the measuring of its pool, on its rare paths
    (``PoolMeasurements``)."""

    def drain(self) -> None: ...

    def failed(self, error: BaseException) -> None: ...

    def gc_reclaimed(self, checkout: Checkout, connection_record: Any) -> None: ...


class Checkout:
    """The last (or current) checkout of one pooled connection: when, for which route, by
    whom. The pool keeps one per connection and reuses it; ``ended`` is 0 while out."""

    __slots__ = (
        "borrower",
        "busy",
        "ended",
        "fairy_ref",
        "probe",
        "reported",
        "route",
        "started",
        "statement_ended",
        "statement_started",
        "statements",
        "unusual",
        "uses",
        "waited",
    )

    def __init__(self, probe: CheckinMeasurements, uses: list[Hold]) -> None:
        # The measuring of the pool it belongs to, for the rare paths of a checkin.
        self.probe = probe
        # Made back in the pool; connect() stamps each checkout.
        self.started = self.ended = time.perf_counter()
        self.route = ""
        # Where this route's use durations go: looked up when the route changes, not at
        # every checkin.
        self.uses = uses
        # Whether the checkout being made has waited, and its wait is counted already.
        self.waited = False
        # SQLAlchemy's weak reference to the _ConnectionFairy handed to the borrower, while
        # out: dead when the connection comes back means the garbage collector sent it.
        self.fairy_ref: Callable[[], object] | None = None
        self.borrower: Borrower = ()
        self.reported = False
        # waited or reported: the next connect() takes the slow path for this Checkout.
        self.unusual = False
        # Kept by the measured execute methods (poolscope._statements): the seconds spent
        # in statements and their number this checkout (reset at checkin), when the last
        # statement began and when it ended (later than it began: none runs now; older
        # than ``started``: none has in this checkout).
        self.busy = 0.0
        self.statements = 0
        self.statement_started = 0.0
        self.statement_ended = 0.0


def log_gc_reclaimed(pool_name: str, checkout: Checkout, connection_record: Any) -> None:
    # detach() (the async path) has already dropped the DBAPI connection by now: SQLAlchemy
    # terminates it when the driver can do so outside the event loop (asyncpg), else lets
    # it go unclosed (psycopg).
    detached = connection_record.dbapi_connection is None
    fate = (
        "discarded it (an async pool cannot take it back)"
        if detached
        else "returned it to the pool"
    )
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
    """A connection checked out now, as ``GET /pool`` lists it: how long it has been held,
    how much of that in statements, whether one runs now and, if not, since when the
    connection has sat idle (since the last statement ended, or the checkout)."""

    age_seconds: float
    route: str
    borrower: str
    leaked: bool
    in_statement: bool = False
    statements: int = 0
    statement_seconds: float = 0.0
    idle_seconds: float = 0.0
    # The borrower's line, on one line ("" when not recorded).
    site: str = ""

    def describe(self, *, with_site: bool = True) -> str:
        """``held 12.0 s, 4 ms in 3 statements, idle 11.9 s since app/x.py:41 f`` (or
        ``..., in a statement now``); ``with_site=False`` leaves the borrower's line out."""
        plural = "" if self.statements == 1 else "s"
        text = (
            f"held {self.age_seconds:.1f} s, {_short_seconds(self.statement_seconds)} in "
            f"{self.statements} statement{plural}"
        )
        if self.in_statement:
            return f"{text}, in a statement now"
        text = f"{text}, idle {self.idle_seconds:.1f} s"
        return f"{text} since {self.site}" if with_site and self.site else text


def _short_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def hold_now(checkout: Checkout, now: float) -> CheckedOutConnection:
    """What ``checkout`` (out of the pool) shows at ``now``: a statement running counts
    up to ``now``."""
    # Read once: the connection's own thread may change them meanwhile.
    running = checkout.statement_started
    ended = checkout.statement_ended
    busy = checkout.busy
    statements = checkout.statements
    started = checkout.started
    in_statement = running > ended
    if in_statement:
        busy += max(0.0, now - running)
        statements += 1
    return CheckedOutConnection(
        age_seconds=now - started,
        route=checkout.route,
        borrower=format_borrower(checkout.borrower[:1]) if checkout.borrower else "",
        leaked=checkout.reported,
        in_statement=in_statement,
        statements=statements,
        statement_seconds=busy,
        idle_seconds=0.0 if in_statement else now - max(started, ended),
        site=format_site(checkout.borrower),
    )


def _record_site(checkout: Checkout, connection_record: Any) -> None:
    checkout.borrower = capture_site()


def _record_full(checkout: Checkout, connection_record: Any) -> None:
    checkout.borrower = capture_full()


# Plain functions, not methods: one call fewer at every checkout.
_RECORD_BORROWER = {"site": _record_site, "full": _record_full}


class LeakTracker:
    """The connections of one pool checked out now, and their leaks.

    The pool keeps each connection's :class:`Checkout` on its record (``ended`` 0 while
    it is out). The tracker learns every record from the ``connect`` event (rare: one
    per new DBAPI connection) and reads their Checkouts when asked, so it costs nothing
    per checkout. Only with a stack capture mode other than ``"off"`` does the pool call
    :meth:`checkout_hook`.

    With a ``leak_threshold`` a background thread looks every quarter threshold (between
    0.01 and 1 s) for connections held longer, reports each once (WARNING, with route and
    borrower) and, once it is back, logs its return (INFO, with the exact time held).
    """

    def __init__(
        self,
        *,
        pool_name: str,
        leak_threshold: float | None,
        stack_capture: StackCapture = "site",
        count_leak: Callable[[], None] = lambda: None,
        write_leaked: Callable[[int], None] = lambda count: None,
    ) -> None:
        if leak_threshold is not None and not leak_threshold >= 0:
            raise ValueError("leak_threshold must be None (off) or >= 0 seconds")
        if stack_capture not in STACK_CAPTURES:
            raise ValueError(f"stack_capture must be one of {', '.join(STACK_CAPTURES)}")
        self.pool_name = pool_name
        self.leak_threshold = leak_threshold
        # Without a threshold there is no report to put a stack in.
        self.stack_capture: StackCapture = stack_capture if leak_threshold is not None else "off"
        self._count_leak = count_leak
        # Told whenever the count changes (an exporter that writes files writes it then).
        self._write_leaked = write_leaked
        self._records: weakref.WeakSet[Any] = weakref.WeakSet()
        self._records_lock = threading.Lock()
        # Reported, not yet seen back; the scanner alone changes it.
        self._reported: list[Checkout] = []
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

    @property
    def checkout_hook(self) -> Callable[[Checkout, Any], None] | None:
        """What the pool calls at each checkout, or None when nothing needs calling."""
        return _RECORD_BORROWER.get(self.stack_capture)

    def connect(self, dbapi_connection: Any, connection_record: Any) -> None:
        """The pool's ``connect`` event: one more record that may be checked out."""
        self.track(connection_record)

    def track(self, connection_record: Any) -> None:
        """A record that may be checked out (also one first measured at a checkout: it was
        out when instrument() ran)."""
        with self._records_lock:
            self._records.add(connection_record)

    def adopt(self, connection_records: Iterable[Any]) -> None:
        """Records the pool had before the tracker listened (idle ones, at instrument())."""
        with self._records_lock:
            self._records.update(connection_records)

    def outstanding(self) -> list[Checkout]:
        """The checkouts of the connections out of the pool now."""
        with self._records_lock:
            records = list(self._records)
        found = []
        for record in records:
            checkout = getattr(record, CHECKOUT_ATTRIBUTE, None)
            # The pool keeps each connection's Checkout between checkouts: ended = back.
            if checkout is not None and not checkout.ended:
                found.append(checkout)
        return found

    def leaked_connections(self) -> int:
        """Connections reported as leaked and still out."""
        return sum(1 for checkout in tuple(self._reported) if not checkout.ended)

    def scan(self) -> int:
        """Log the return of reported connections back since the last scan, then report
        every connection out past the threshold not reported yet; how many were."""
        threshold = self.leak_threshold
        if threshold is None:
            return 0
        still_out = []
        for checkout in self._reported:
            if not checkout.ended:
                still_out.append(checkout)
                continue
            logger.info(
                "Leaked connection of pool %r (route %r) was returned after %.1f s",
                self.pool_name,
                checkout.route,
                checkout.ended - checkout.started,
            )
        changed = len(still_out) != len(self._reported)
        self._reported = still_out
        found = 0
        now = time.perf_counter()
        for checkout in self.outstanding():
            held = now - checkout.started
            if checkout.reported or held < threshold:
                continue
            checkout.reported = checkout.unusual = True
            self._reported.append(checkout)
            self._count_leak()
            found += 1
            logger.warning(
                "Connection leak on pool %r: a connection has been checked out for %.1f s "
                "(leak threshold %g s) by route %r; %s. Borrowed at:\n%s",
                self.pool_name,
                held,
                threshold,
                checkout.route,
                hold_now(checkout, now).describe(with_site=False),
                format_borrower(checkout.borrower),
            )
        if changed or found:
            self._write_leaked(len(self._reported))
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
        listing = [hold_now(checkout, now) for checkout in self.outstanding()]
        listing.sort(key=lambda connection: connection.age_seconds, reverse=True)
        return listing

    def forget_checkouts(self) -> None:
        """Take the Checkouts off the pool's connections: they point at this pool name's
        recorder, which a later ``instrument()`` of the same engine may not share."""
        with self._records_lock:
            records = list(self._records)
        for record in records:
            with contextlib.suppress(AttributeError):
                delattr(record, CHECKOUT_ATTRIBUTE)

    def close(self) -> None:
        """Stop checking (the thread ends within one interval)."""
        self._stop.set()
        if self._scanner is not None and self._scanner is not threading.current_thread():
            self._scanner.join()
