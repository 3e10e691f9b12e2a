"""Pool classes that measure every checkout: wait time, pending callers, timeouts, use time.

SQLAlchemy has no "waiting for a connection" event and no timeout event, so the
measurement wraps ``Pool.connect()`` itself. ``engine.dispose()`` rebuilds the pool with
``self.__class__``, so a pool of these classes stays measured. Wrapping ``connect()``
rather than ``QueuePool._do_get()`` needs no re-entry guard: ``_do_get()`` calls itself
after losing the overflow race, ``connect()`` never does, so each checkout counts once.
Checkout and checkin here cost a few deque appends and ``perf_counter()`` calls: no event
listener (SQLAlchemy's dispatch alone adds ~3 µs per cycle), no lock, no label lookup.
"""

from __future__ import annotations

from time import perf_counter
from typing import ClassVar

from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    ConnectionPoolEntry,
    PoolProxiedConnection,
    QueuePool,
)
from sqlalchemy.pool.base import _ConnectionFairy

from poolscope._leaks import CHECKOUT_KEY, Checkout
from poolscope._recorder import DRAIN_AT, Probe
from poolscope._route_context import current_route

__all__ = [
    "CHECKOUT_KEY",
    "InstrumentedAsyncAdaptedQueuePool",
    "InstrumentedQueuePool",
    "MultiprocessHooks",
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

    def connect(self) -> PoolProxiedConnection:
        probe = self._poolscope_probe
        if probe is None:
            return _checkout(self)
        pending = probe.pending
        pending.append(None)
        started = perf_counter()
        try:
            fairy = _checkout(self)
        except PoolTimeoutError:
            probe.timed_out(perf_counter() - started)
            raise
        finally:
            pending.pop()
        now = perf_counter()
        try:
            probe.waits.append(now - started)
            record: ConnectionPoolEntry = fairy._connection_record  # type: ignore[assignment]
            checkout = Checkout(now, _route(), record.fairy_ref)  # type: ignore[attr-defined]
            record.info[CHECKOUT_KEY] = checkout
            if probe.checkout_hook is not None:
                probe.checkout_hook(checkout, record)
        except Exception as error:
            probe.failed(error)
        return fairy

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        # Every way back into the pool passes here: checkin, a failed checkout, detach().
        probe = self._poolscope_probe
        if probe is not None:
            try:
                checkout = record.info.pop(CHECKOUT_KEY, None)
                if checkout is not None:
                    checkout.ended = perf_counter()
                    uses = probe.uses
                    uses.append(checkout)
                    fairy_ref = checkout.fairy_ref
                    if fairy_ref is not None and fairy_ref() is None:
                        # Its borrower was collected, never closed: the gc sent it back.
                        probe.gc_reclaimed(checkout, record)
                    if len(uses) > DRAIN_AT:
                        probe.drain()
            except Exception as error:
                probe.failed(error)
        super()._do_return_conn(record)


class InstrumentedAsyncAdaptedQueuePool(InstrumentedQueuePool, AsyncAdaptedQueuePool):
    """The ``AsyncAdaptedQueuePool`` counterpart of :class:`InstrumentedQueuePool`, for
    ``create_async_engine(..., poolclass=InstrumentedAsyncAdaptedQueuePool)``."""


class MultiprocessHooks(InstrumentedQueuePool):
    """The hot path of prometheus_client's multiprocess mode: the metric objects are
    written at once (their values live in per-process files), gauges included."""

    def connect(self) -> PoolProxiedConnection:
        probe = self._poolscope_probe
        if probe is None or probe.multiprocess is None:
            return _checkout(self)
        recorder = probe.multiprocess
        pending = probe.pending
        pending.append(None)
        recorder.pending.inc()
        started = perf_counter()
        try:
            fairy = _checkout(self)
        except PoolTimeoutError:
            probe.timed_out(perf_counter() - started)
            raise
        finally:
            pending.pop()
            recorder.pending.dec()
        now = perf_counter()
        try:
            recorder.wait.observe(now - started)
            recorder.checkouts.inc()
            record: ConnectionPoolEntry = fairy._connection_record  # type: ignore[assignment]
            checkout = Checkout(now, _route(), record.fairy_ref)  # type: ignore[attr-defined]
            record.info[CHECKOUT_KEY] = checkout
            if probe.checkout_hook is not None:
                probe.checkout_hook(checkout, record)
            recorder.refresh(self)
        except Exception as error:
            probe.failed(error)
        return fairy

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        probe = self._poolscope_probe
        recorder = probe.multiprocess if probe is not None else None
        if probe is not None and recorder is not None:
            try:
                checkout = record.info.pop(CHECKOUT_KEY, None)
                if checkout is not None:
                    checkout.ended = now = perf_counter()
                    recorder.use_child(checkout.route).observe(now - checkout.started)
                    fairy_ref = checkout.fairy_ref
                    if fairy_ref is not None and fairy_ref() is None:
                        probe.gc_reclaimed(checkout, record)
            except Exception as error:
                probe.failed(error)
        # Past InstrumentedQueuePool's own measuring return, to the pool's.
        super(InstrumentedQueuePool, self)._do_return_conn(record)
        if probe is not None and recorder is not None:
            try:
                recorder.refresh(self)
            except Exception as error:
                probe.failed(error)
