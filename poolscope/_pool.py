"""Pool classes that measure every checkout: wait time, pending callers, timeouts, use time.

SQLAlchemy has no "waiting for a connection" event and no timeout event, so these classes
override ``QueuePool._do_get``, where a checkout takes a connection from the queue, waits
for one or opens one. ``engine.dispose()`` rebuilds the pool with ``self.__class__``, so a
pool of these classes stays measured.

The checkout+checkin cycle is SQLAlchemy's own hot path, so the common path is lean: a
checkout that finds an idle connection takes it as ``QueuePool._do_get`` would
(``get(False)``, no clock, no lock); ``connect()`` then counts it as a 0 s wait and stamps
the connection's reused :class:`Checkout` (kept on its record); ``_do_return_conn()``,
which the measured class's ``_return_conn`` skips straight to, appends the use time to the
route's list.
Durations are folded into buckets later, by the exporter. Only a checkout that finds no
idle connection takes the slow path: counted as pending, timed, then handed to the pool's
own ``_do_get``. That one calls itself after losing the overflow race; the caller's
identity (thread or greenlet) in the pending list tells the nested call apart, so a
checkout is counted once. No lock, no label lookup and no SQLAlchemy event listener on
the common path: SQLAlchemy's event dispatch alone would cost more than all of the rest
(benchmarks/README.md has the measured figures).

Everything else is SQLAlchemy's, down to the logger: these classes log under the name of
the class they stand in for (``sqlalchemy.pool.impl.QueuePool``), so ``echo_pool`` and the
``sqlalchemy.pool`` logger work as documented. A subclass's own overrides of the methods
taken over are called, as on a ``QueuePool``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any, ClassVar

from sqlalchemy import log
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    ConnectionPoolEntry,
    Pool,
    PoolProxiedConnection,
    QueuePool,
)
from sqlalchemy.pool.base import _ConnectionFairy
from sqlalchemy.util.queue import Empty, Full

from poolscope import _route_context
from poolscope._leaks import CHECKOUT_ATTRIBUTE, Checkout
from poolscope._recorder import DRAIN_AT, PoolMeasurements
from poolscope._route_context import current_route

try:
    from greenlet import getcurrent as _current  # type: ignore[import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - sync-only installs; async needs greenlet
    _current = threading.get_ident

try:
    # SQLAlchemy 2.0 only (2.1 dropped it): an AsyncAdaptedQueuePool for dialects that
    # may be called outside of an event loop (aiosqlite on a file).
    from sqlalchemy.pool import (  # type: ignore[attr-defined, unused-ignore]
        FallbackAsyncAdaptedQueuePool,
    )
except ImportError:
    FallbackAsyncAdaptedQueuePool = None

__all__ = [
    "MEASURING_CLASSES",
    "InstrumentedAsyncAdaptedQueuePool",
    "InstrumentedQueuePool",
    "logger_name",
    "measuring_connect",
    "overridden_methods",
    "shorten_checkin",
]

_checkout = _ConnectionFairy._checkout
_route = current_route.get


def logger_name(pool_class: type[Pool]) -> str:
    """The logger SQLAlchemy names after ``pool_class`` (before its ``logging_name``)."""
    return log._qual_logger_name_for_cls(pool_class)


class InstrumentedQueuePool(QueuePool):
    """A ``QueuePool`` that poolscope measures once ``poolscope.instrument()`` attaches to it.

    Pass it as ``create_engine(..., poolclass=InstrumentedQueuePool)`` to have the measuring
    pool from the start; until ``instrument(engine)`` is called it behaves exactly like
    ``QueuePool``. ``instrument()`` installs it on engines built without it.
    """

    # Set on the per-instrumentation subclass instrument() builds; None = not measured.
    _poolscope_probe: ClassVar[PoolMeasurements | None] = None
    # What SQLAlchemy names the pool's logger after (log._qual_logger_name_for_cls).
    _sqla_logger_namespace: ClassVar[str | None] = logger_name(QueuePool)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if "_sqla_logger_namespace" not in own:
            # A user's subclass logs under its own name, as a QueuePool subclass does.
            cls._sqla_logger_namespace = None

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            # An idle connection: what QueuePool._do_get takes too. connect() counts it.
            return self._pool.get(False)
        except Empty:
            pass
        probe = self._poolscope_probe
        if probe is None:
            return QueuePool._do_get(self)
        return _wait_for_connection(self, probe)

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        # Every way back into the pool passes here: checkin, a failed checkout, detach().
        # A connection is measured while it has a Checkout: given at its first measured
        # checkout, taken off by Instrumentation.close().
        try:
            checkout: Checkout = record.poolscope_checkout  # type: ignore[attr-defined]
        except AttributeError:
            QueuePool._do_return_conn(self, record)
            return
        if not checkout.ended:
            try:
                checkout.ended = ended = perf_counter()
                uses = checkout.uses
                if checkout.statements:
                    # A hold with statements: its time in them goes with it (see Hold).
                    uses.append((ended - checkout.started, checkout.busy, checkout.statements))
                    checkout.statements = 0
                    checkout.busy = 0.0
                else:
                    uses.append(ended - checkout.started)
                fairy_ref = checkout.fairy_ref
                # Let SQLAlchemy's weak reference go before the fairy, callback unrun.
                checkout.fairy_ref = None
                if fairy_ref() is None:  # type: ignore[misc]  # set by connect()
                    checkout.probe.gc_reclaimed(checkout, record)
                if len(uses) > DRAIN_AT:
                    checkout.probe.drain()
            except Exception as error:
                checkout.probe.failed(error)
        else:
            # A checkout that failed after its wait (never handed out), or a second return.
            checkout.waited = False
        try:
            # What QueuePool._do_return_conn does first; it handles a full queue.
            self._pool.put(record, False)
        except Full:
            QueuePool._do_return_conn(self, record)


def shorten_checkin(pool_class: type[InstrumentedQueuePool]) -> None:
    """For the class ``instrument()`` builds: ``_return_conn`` (every checkin) straight to
    the measuring ``_do_return_conn``, one call fewer than through ``Pool._return_conn``,
    unless a subclass overrides either (then its override is called, as on a QueuePool)."""
    if (
        pool_class._do_return_conn is InstrumentedQueuePool._do_return_conn
        and pool_class._return_conn is Pool._return_conn
    ):
        pool_class._return_conn = InstrumentedQueuePool._do_return_conn  # type: ignore[method-assign, assignment]


def measuring_connect(
    probe: PoolMeasurements, checkout_fairy: Callable[[Any], PoolProxiedConnection] = _checkout
) -> Callable[[QueuePool], PoolProxiedConnection]:
    """The ``connect()`` of the pool class that ``instrument()`` builds around ``probe``.

    Built per instrumentation, so that the probe is at hand with no lookup, and taken off
    the class by ``close()``: the measuring pool classes themselves keep ``Pool.connect``.
    ``checkout_fairy`` is the pool's own ``connect`` where a subclass overrides it.
    """

    def connect(self: QueuePool) -> PoolProxiedConnection:
        fairy = checkout_fairy(self)
        try:
            record: Any = fairy._connection_record
            try:
                checkout: Checkout = record.poolscope_checkout
            except AttributeError:
                checkout = _new_checkout(probe, record)
            if checkout.unusual:
                checkout = _unusual_checkout(probe, record, checkout)
            else:
                probe.waits.append(0.0)
            checkout.started = perf_counter()
            checkout.ended = 0.0
            # SQLAlchemy's weak reference to the fairy: dead at checkin = the garbage
            # collector, not close(), sent the connection back.
            checkout.fairy_ref = record.fairy_ref
            if _route_context.attributed:
                route = _route()
                if route != checkout.route:
                    checkout.route = route
                    checkout.uses = probe.uses_for(route)
        except Exception as error:
            probe.failed(error)
        return fairy

    if probe.checkout_hook is None:
        return connect

    def connect_recording_the_borrower(self: QueuePool) -> PoolProxiedConnection:
        # Leak detection with a stack capture: only then does a checkout pay for a call.
        fairy = connect(self)
        if probe.checkout_hook is not None:
            try:
                record: Any = fairy._connection_record
                probe.checkout_hook(record.poolscope_checkout, record)
            except Exception as error:
                probe.failed(error)
        return fairy

    return connect_recording_the_borrower


def _new_checkout(probe: PoolMeasurements, record: Any) -> Checkout:
    """A connection's first Checkout (or the one after a reported leak)."""
    probe.track(record)
    checkout = record.poolscope_checkout = Checkout(probe, probe.uses_for(""))
    return checkout


def _unusual_checkout(probe: PoolMeasurements, record: Any, checkout: Checkout) -> Checkout:
    """connect() for a Checkout with its ``unusual`` mark: counts the checkout unless
    _wait_for_connection() did, and replaces a reported leak's Checkout (the tracker keeps
    it, to see it come back). Returns the Checkout to stamp."""
    if checkout.reported:
        waited = checkout.waited
        checkout = _new_checkout(probe, record)
        checkout.waited = waited
    if checkout.waited:
        checkout.waited = False
    else:
        probe.waits.append(0.0)
    checkout.unusual = False
    return checkout


def _wait_for_connection(pool: QueuePool, probe: PoolMeasurements) -> ConnectionPoolEntry:
    """No idle connection: wait for one or open one, through the pool's own ``_do_get``."""
    me = _current()
    pending = probe.pending
    if pending and me in pending:
        # QueuePool._do_get calling itself after losing the overflow race, inside the
        # QueuePool._do_get() below: the caller is waiting already.
        return QueuePool._do_get(pool)
    pending.append(me)
    _waiting(probe, started=True)
    started = perf_counter()
    try:
        record = QueuePool._do_get(pool)
    except PoolTimeoutError:
        _timed_out(probe, perf_counter() - started)
        raise
    finally:
        pending.remove(me)
        _waiting(probe, started=False)
    try:
        probe.waits.append(perf_counter() - started)
        # Tells connect() this checkout is counted.
        checkout = getattr(record, CHECKOUT_ATTRIBUTE, None) or _new_checkout(probe, record)
        checkout.waited = checkout.unusual = True
    except Exception as error:
        probe.failed(error)
    return record


def _waiting(probe: PoolMeasurements, *, started: bool) -> None:
    try:
        probe.recorder.waiting(started=started)
    except Exception as error:
        probe.failed(error)


def _timed_out(probe: PoolMeasurements, waited: float) -> None:
    try:
        probe.recorder.observe_timeout(waited)
    except Exception as error:
        probe.failed(error)


class InstrumentedAsyncAdaptedQueuePool(InstrumentedQueuePool, AsyncAdaptedQueuePool):
    """The ``AsyncAdaptedQueuePool`` counterpart of :class:`InstrumentedQueuePool`, for
    ``create_async_engine(..., poolclass=InstrumentedAsyncAdaptedQueuePool)``."""

    _sqla_logger_namespace = logger_name(AsyncAdaptedQueuePool)


# SQLAlchemy's pool classes and the measuring class that stands in for each.
MEASURING_CLASSES: dict[type[QueuePool], type[InstrumentedQueuePool]] = {
    QueuePool: InstrumentedQueuePool,
    AsyncAdaptedQueuePool: InstrumentedAsyncAdaptedQueuePool,
}

if FallbackAsyncAdaptedQueuePool is not None:

    class InstrumentedFallbackAsyncAdaptedQueuePool(
        InstrumentedAsyncAdaptedQueuePool,
        FallbackAsyncAdaptedQueuePool,  # type: ignore[misc, unused-ignore]
    ):
        """SQLAlchemy 2.0's ``FallbackAsyncAdaptedQueuePool``, measured."""

        _sqla_logger_namespace = logger_name(FallbackAsyncAdaptedQueuePool)

    MEASURING_CLASSES[FallbackAsyncAdaptedQueuePool] = InstrumentedFallbackAsyncAdaptedQueuePool


# The pool methods these classes take over, and SQLAlchemy's own versions of them.
_TAKEN_OVER: dict[str, Callable[..., Any]] = {
    "_do_get": QueuePool._do_get,
    "_do_return_conn": QueuePool._do_return_conn,
    "_return_conn": Pool._return_conn,
    "connect": Pool.connect,
}


def overridden_methods(pool_class: type[QueuePool]) -> list[str]:
    """The methods poolscope takes over that ``pool_class`` overrides itself: its fast
    paths do what SQLAlchemy's own versions do, and would skip such an override."""
    overridden = []
    for name, own in _TAKEN_OVER.items():
        for klass in pool_class.__mro__:
            if not issubclass(klass, InstrumentedQueuePool) and name in vars(klass):
                if vars(klass)[name] is not own:
                    overridden.append(name)
                break
    return overridden
