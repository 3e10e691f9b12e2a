"""Pool classes that measure every checkout: wait time, pending callers, timeouts, use time.

SQLAlchemy has no "waiting for a connection" event and no timeout event, so these classes
override ``QueuePool._do_get``, where a checkout takes a connection from the queue, waits
for one or opens one. ``engine.dispose()`` rebuilds the pool with ``self.__class__``, so a
pool of these classes stays measured.

The common checkout finds an idle connection: it is taken at once (``get(False)``, what
``QueuePool._do_get`` does then too) and observed as waiting 0 s, for the cost of one
append. Only a checkout that finds no idle connection takes the slow path: counted as
pending, timed, then handed to the pool's own ``_do_get``. That one calls itself after
losing the overflow race; the caller's identity (thread or greenlet) in the pending list
tells the nested call apart, so a checkout is counted once. ``connect()`` and
``_do_return_conn()`` time the use. No lock, no label lookup and no SQLAlchemy event
listener on this path: SQLAlchemy's dispatch alone adds ~3 µs to a checkout+checkin.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any, ClassVar

from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    ConnectionPoolEntry,
    PoolProxiedConnection,
    QueuePool,
)
from sqlalchemy.pool.base import _ConnectionFairy
from sqlalchemy.util.queue import Empty

from poolscope._leaks import CHECKOUT_KEY, Checkout
from poolscope._recorder import DRAIN_AT, PoolRecorder, Probe
from poolscope._route_context import current_route

try:
    from greenlet import getcurrent as _current  # type: ignore[import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - sync-only installs; async needs greenlet
    _current = threading.get_ident

__all__ = [
    "InstrumentedAsyncAdaptedQueuePool",
    "InstrumentedQueuePool",
    "MultiprocessHooks",
    "base_method",
]

_checkout = _ConnectionFairy._checkout
_route = current_route.get


class InstrumentedQueuePool(QueuePool):
    """A ``QueuePool`` that poolscope measures once ``poolscope.instrument()`` attaches to it.

    Pass it as ``create_engine(..., poolclass=InstrumentedQueuePool)`` to have the measuring
    pool from the start; until ``instrument(engine)`` is called it behaves exactly like
    ``QueuePool``. ``instrument()`` installs it on engines built without it.
    """

    # Set on the per-instrumentation subclass instrument() builds; None = not measured.
    _poolscope_probe: ClassVar[Probe | None] = None

    def _do_get(self) -> ConnectionPoolEntry:
        probe = self._poolscope_probe
        if probe is None:
            return super()._do_get()
        pending = probe.pending
        if pending and _current() in pending:
            # QueuePool._do_get calling itself, inside our own slow path below.
            return probe.base_get(self)
        try:
            record: ConnectionPoolEntry = self._pool.get(False)
        except Empty:
            return _wait_for_connection(self, probe)
        try:
            probe.waits.append(0.0)
        except Exception as error:
            probe.failed(error)
        return record

    def connect(self) -> PoolProxiedConnection:
        fairy = _checkout(self)
        probe = self._poolscope_probe
        if probe is not None:
            try:
                record: ConnectionPoolEntry = fairy._connection_record  # type: ignore[assignment]
                info = record.info
                checkout: Checkout | None = info.get(CHECKOUT_KEY)
                now = perf_counter()
                # SQLAlchemy's weak reference to the fairy: dead at checkin = the garbage
                # collector, not close(), sent the connection back.
                fairy_ref = record.fairy_ref  # type: ignore[attr-defined]
                if checkout is None or checkout.reported:
                    # One Checkout per pooled connection, reused; a reported leak keeps its
                    # own, for the leak tracker to see it come back.
                    checkout = info[CHECKOUT_KEY] = Checkout(now, _route(), fairy_ref)
                else:
                    checkout.started = now
                    checkout.route = _route()
                    checkout.fairy_ref = fairy_ref
                    checkout.ended = 0.0
                if probe.checkout_hook is not None:
                    probe.checkout_hook(checkout, record)
            except Exception as error:
                probe.failed(error)
        return fairy

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        # Every way back into the pool passes here: checkin, a failed checkout, detach().
        probe = self._poolscope_probe
        if probe is None:
            super()._do_return_conn(record)
            return
        try:
            checkout: Checkout | None = record.info.get(CHECKOUT_KEY)
            if checkout is not None and not checkout.ended:
                checkout.ended = now = perf_counter()
                route = checkout.route
                uses = probe.uses.get(route)
                if uses is None:
                    uses = probe.uses_for(route)
                uses.append(now - checkout.started)
                fairy_ref = checkout.fairy_ref
                if fairy_ref is not None and fairy_ref() is None:
                    probe.gc_reclaimed(checkout, record)
                if len(uses) > DRAIN_AT:
                    probe.drain()
        except Exception as error:
            probe.failed(error)
        probe.base_return(self, record)


def _wait_for_connection(pool: QueuePool, probe: Probe) -> ConnectionPoolEntry:
    """No idle connection: wait for one or open one, through the pool's own ``_do_get``."""
    me = _current()
    pending = probe.pending
    pending.append(me)
    multiprocess = probe.multiprocess
    if multiprocess is not None:
        multiprocess.pending.inc()
    started = perf_counter()
    try:
        record = probe.base_get(pool)
    except PoolTimeoutError:
        _timed_out(probe, perf_counter() - started)
        raise
    finally:
        pending.remove(me)
        if multiprocess is not None:
            multiprocess.pending.dec()
    try:
        waited = perf_counter() - started
        if multiprocess is None:
            probe.waits.append(waited)
        else:
            multiprocess.observe_wait(waited)
    except Exception as error:
        probe.failed(error)
    return record


def _timed_out(probe: Probe, waited: float) -> None:
    try:
        if probe.multiprocess is not None:
            probe.multiprocess.observe_timeout(waited)
        elif isinstance(probe.recorder, PoolRecorder):
            probe.recorder.observe_timeout(waited)
    except Exception as error:
        probe.failed(error)


class InstrumentedAsyncAdaptedQueuePool(InstrumentedQueuePool, AsyncAdaptedQueuePool):
    """The ``AsyncAdaptedQueuePool`` counterpart of :class:`InstrumentedQueuePool`, for
    ``create_async_engine(..., poolclass=InstrumentedAsyncAdaptedQueuePool)``."""


class MultiprocessHooks(InstrumentedQueuePool):
    """prometheus_client's multiprocess mode: the metric objects are written at once
    (their values live in per-process files), the gauges from the pool's own counts."""

    def _do_get(self) -> ConnectionPoolEntry:
        probe = self._poolscope_probe
        recorder = probe.multiprocess if probe is not None else None
        if probe is None or recorder is None:
            return super()._do_get()
        pending = probe.pending
        if pending and _current() in pending:
            return probe.base_get(self)
        try:
            record: ConnectionPoolEntry = self._pool.get(False)
        except Empty:
            record = _wait_for_connection(self, probe)
        else:
            try:
                recorder.observe_wait(0.0)
            except Exception as error:
                probe.failed(error)
        try:
            recorder.refresh(self)
        except Exception as error:
            probe.failed(error)
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        probe = self._poolscope_probe
        recorder = probe.multiprocess if probe is not None else None
        if probe is None or recorder is None:
            super()._do_return_conn(record)
            return
        try:
            checkout: Checkout | None = record.info.get(CHECKOUT_KEY)
            if checkout is not None and not checkout.ended:
                checkout.ended = now = perf_counter()
                recorder.use_child(checkout.route).observe(now - checkout.started)
                probe.check_gc(checkout, record)
        except Exception as error:
            probe.failed(error)
        probe.base_return(self, record)
        try:
            recorder.refresh(self)
        except Exception as error:
            probe.failed(error)


def base_method(pool_class: type[QueuePool], name: str) -> Callable[..., Any]:
    """The pool's own ``name`` method: the first in ``pool_class``'s MRO that is not one of
    the measuring classes'."""
    for klass in pool_class.__mro__:
        if not issubclass(klass, InstrumentedQueuePool) and name in vars(klass):
            method: Callable[..., Any] = vars(klass)[name]
            return method
    raise TypeError(f"{pool_class.__name__} has no {name}")
