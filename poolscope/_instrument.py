"""``instrument(engine)``: measure an Engine's or AsyncEngine's pool, ``close()`` to stop."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import Counter
from types import TracebackType
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, Pool, QueuePool

from poolscope._errors import PoolscopeError
from poolscope._leaks import CheckedOutConnection, LeakTracker
from poolscope._pool import (
    MEASURING_CLASSES,
    InstrumentedQueuePool,
    logger_name,
    measuring_connect,
    overridden_methods,
    shorten_checkin,
)
from poolscope._pool_state import PoolState, read_pool_state
from poolscope._recorder import PoolMeasurements, Recorder
from poolscope._stacks import STACK_CAPTURES, StackCapture
from poolscope._statements import measure_statements, stop_measuring_statements
from poolscope._urls import SYNC_DRIVERS
from poolscope.exporters import multiprocess_enabled, recorder_for

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

__all__ = ["ENGINE_PER_REQUEST_THRESHOLD", "Instrumentation", "instrument"]

logger = logging.getLogger("poolscope.instrument")

DEFAULT_POOL_NAME = "default"
# More pools than this built under one name in one process: an engine per request.
ENGINE_PER_REQUEST_THRESHOLD = 5

# On a connection record: when its connection was opened, and whether the invalidate
# event has counted that connection's end.
_STARTED = "poolscope_started"
_INVALIDATED = "poolscope_invalidated"

_lock = threading.Lock()
_pools_built: Counter[str] = Counter()
_warned: set[str] = set()


def instrument(
    engine: Engine | AsyncEngine,
    *,
    pool: str | None = None,
    registry: CollectorRegistry | None = REGISTRY,
    meter_provider: MeterProvider | None = None,
    leak_threshold: float | None = None,
    multiprocess: bool | None = None,
    stack_capture: StackCapture = "site",
) -> Instrumentation:
    """Export the engine's pool to ``registry`` under the label ``pool`` (default: the
    engine's ``pool_logging_name``, else ``"default"``) until ``close()``.

    Works for a sync ``Engine`` with a ``QueuePool`` and an ``AsyncEngine`` with an
    ``AsyncAdaptedQueuePool`` (or subclasses); measures every checkout, also after
    ``engine.dispose()``. ``multiprocess`` (default: whether ``PROMETHEUS_MULTIPROC_DIR``
    is set) writes the series to prometheus_client's multiprocess files instead of
    ``registry``.

    ``meter_provider`` (an OpenTelemetry ``MeterProvider``; ``pip install
    'poolscope[otel]'``) records the same measurements through it too, as the semantic
    conventions' ``db.client.connection.*`` instruments; ``registry=None`` then leaves
    Prometheus out (see docs/opentelemetry.md).

    ``leak_threshold`` (seconds) enables leak detection: a connection held longer is
    reported once on the ``poolscope.leaks`` logger with its route and borrower, which
    ``stack_capture`` records at each checkout: ``"off"``, ``"site"`` (the line that
    checked it out) or ``"full"`` (the whole stack); benchmarks/README.md has their costs.
    """
    return Instrumentation(
        engine,
        pool=pool,
        registry=registry,
        meter_provider=meter_provider,
        leak_threshold=leak_threshold,
        multiprocess=multiprocess_enabled() if multiprocess is None else multiprocess,
        stack_capture=stack_capture,
    )


class Instrumentation:
    """The handle of one instrumented engine. ``close()`` removes every listener and every
    series it added; it is also a context manager."""

    def __init__(
        self,
        engine: Engine | AsyncEngine,
        *,
        pool: str | None,
        registry: CollectorRegistry | None,
        leak_threshold: float | None,
        meter_provider: MeterProvider | None = None,
        multiprocess: bool = False,
        stack_capture: StackCapture = "site",
    ) -> None:
        sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        if not isinstance(sync_engine, Engine):
            raise PoolscopeError(
                "poolscope.instrument() takes an Engine or AsyncEngine, not "
                f"{type(engine).__name__}"
            )
        if leak_threshold is not None and not leak_threshold > 0:
            raise PoolscopeError("leak_threshold must be a positive number of seconds")
        if stack_capture not in STACK_CAPTURES:
            raise PoolscopeError(
                f"stack_capture must be one of {', '.join(map(repr, STACK_CAPTURES))}"
            )
        target = sync_engine.pool
        if not isinstance(target, QueuePool):
            raise PoolscopeError(_unmeasurable_pool(type(target)))
        overridden = overridden_methods(type(target))
        if overridden:
            raise PoolscopeError(
                f"poolscope measures a pool by taking over {', '.join(overridden)}, which "
                f"{type(target).__name__} overrides; instrument a QueuePool or "
                "AsyncAdaptedQueuePool subclass that leaves them alone"
            )
        name = pool if pool is not None else (target._orig_logging_name or DEFAULT_POOL_NAME)
        if not isinstance(name, str) or not name:
            raise PoolscopeError("the pool name must be a non-empty string")
        self.pool_name = name
        self.registry = registry
        self.meter_provider = meter_provider
        self.leak_threshold = leak_threshold
        self.multiprocess = multiprocess
        self._engine = weakref.ref(sync_engine)
        self._closed = False
        self.recorder: Recorder = recorder_for(
            name, registry=registry, multiprocess=multiprocess, meter_provider=meter_provider
        )
        self.probe = PoolMeasurements(self.recorder)
        self._leaks = LeakTracker(
            pool_name=name,
            leak_threshold=leak_threshold,
            stack_capture=stack_capture,
            count_leak=self.recorder.count_leak,
            write_leaked=self.recorder.write_leaked,
        )
        self.probe.checkout_hook = self._leaks.checkout_hook
        self.probe.track = self._leaks.track
        self.probe.leaked_connections = self._leaks.leaked_connections
        with _lock:
            current = type(target)
            if getattr(current, "_poolscope_probe", None) is not None:
                raise PoolscopeError(
                    f"this engine's pool is already instrumented by poolscope (as pool "
                    f"{current._poolscope_probe.recorder.name!r}); close() that "  # type: ignore[attr-defined]
                    "Instrumentation before instrumenting the engine again"
                )
            self._original_class: type[QueuePool] = current
            self._pool_class = _measuring_class(current, self.probe)
            # Same layout, same state, connections already out stay tracked by the pool;
            # engine.dispose() rebuilds with self.__class__, so the new pool is measured too.
            target.__class__ = self._pool_class
            # Listened to through the engine (SQLAlchemy attaches them to its pool, and
            # dispose() carries them over), so that removing them needs the engine, not
            # the pool: after engine.dispose() the old pool must go as it would unmeasured
            # (its connections closed with it), not live as long as this handle.
            event.listen(sync_engine, "connect", self._on_connect, insert=True)
            event.listen(sync_engine, "invalidate", self._on_invalidate)
            event.listen(sync_engine, "soft_invalidate", self._on_soft_invalidate)
            event.listen(sync_engine, "connect", self._leaks.connect)
            self._dialect = sync_engine.dialect
            measure_statements(self._dialect)
            # Connections opened before instrument() announce themselves no more.
            idle = _idle_records(target)
            self._leaks.adopt(idle)
            for record in idle:
                setattr(record, _STARTED, getattr(record, "starttime", None))
            _pools_built[name] += 1
            built = _pools_built[name]
            warn = built > ENGINE_PER_REQUEST_THRESHOLD and name not in _warned
            if warn:
                _warned.add(name)
        self._finalizer = weakref.finalize(sync_engine, self._detach)
        self.recorder.attach(self)
        if warn:
            logger.warning(
                "%d pools built for pool %r in this process: is an engine created per "
                "request? Create one engine at startup and share it (logged once per name)",
                built,
                name,
            )

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def driver(self) -> str | None:
        """The driver as a SQLAlchemy URL names it (``psycopg2``, ``psycopg``, ``asyncpg``,
        ``psycopg_async``, ...), while the engine lives."""
        engine = self._engine()
        if engine is None:
            return None
        name = str(engine.dialect.driver)
        # psycopg 3's async dialect shares its driver name with the sync one; its URLs
        # (and poolscope's --driver) say psycopg_async.
        return f"{name}_async" if engine.dialect.is_async and name in SYNC_DRIVERS else name

    def state(self) -> PoolState:
        """The pool's state now, as the gauges export it."""
        engine = self._engine()
        pending = len(self.probe.pending)
        if engine is None:
            return PoolState(
                size=0,
                max_overflow=0,
                timeout=0.0,
                max=0,
                idle=0,
                used=0,
                overflow=0,
                pending=pending,
            )
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        return read_pool_state(pool, pending=pending)

    def checked_out(self) -> list[CheckedOutConnection]:
        """The connections checked out now, oldest first: age, route and (with a
        ``leak_threshold`` and a stack capture) the line that checked each out."""
        return self._leaks.checked_out()

    def leaked_connections(self) -> int:
        """Connections checked out longer than ``leak_threshold`` now (0 without one)."""
        counter = self.probe.leaked_connections
        return counter() if counter is not None else 0

    def close(self) -> None:
        """Stop measuring: removes the listeners, restores the pool class and the series."""
        with _lock:
            if self._closed:
                return
            self._closed = True
            # Disables every pool of this class at once, also pools dispose() replaced.
            self._pool_class._poolscope_probe = None
            del self._pool_class.connect  # back to Pool.connect
            engine = self._engine()
            if engine is not None and type(engine.pool) is self._pool_class:
                engine.pool.__class__ = self._original_class  # type: ignore[assignment]
            if engine is not None:
                for identifier, listener in self._listeners():
                    if event.contains(engine, identifier, listener):
                        event.remove(engine, identifier, listener)
            stop_measuring_statements(self._dialect)
            self._leaks.forget_checkouts()
        self._finalizer.detach()
        self._detach()

    def _detach(self) -> None:
        self._leaks.close()
        self.recorder.detach(self)

    def _listeners(self) -> list[tuple[str, Any]]:
        return [
            ("connect", self._on_connect),
            ("invalidate", self._on_invalidate),
            ("soft_invalidate", self._on_soft_invalidate),
            ("connect", self._leaks.connect),
        ]

    def __enter__(self) -> Instrumentation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        status = "closed" if self._closed else "open"
        return f"<Instrumentation pool={self.pool_name!r} {status}>"

    # Listeners for the rare events; checkout and checkin are measured by the pool class.

    def _on_connect(self, dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
        # Registered first among the connect listeners, so the dialect's own setup on the
        # new connection is not counted: starttime is taken just before the DBAPI connect.
        try:
            started = getattr(connection_record, "starttime", None)
            if started is not None and self._pool_class._poolscope_probe is not None:
                self.recorder.observe_create(max(0.0, time.time() - started))
                self._count_pool_wide_invalidation(connection_record, started)
        except Exception as error:
            self.probe.failed(error)

    def _count_pool_wide_invalidation(self, record: Any, started: float) -> None:
        """A record connecting again replaces a connection. One the invalidate event
        announced is counted already; one that a pool-wide invalidation (SQLAlchemy's
        answer to a disconnect error: every connection older than it is stale) made stale
        is replaced here, at its next checkout, with no event of its own: count it now.
        Only on this rare path (a new connection), never on a checkout's."""
        previous: float | None = getattr(record, _STARTED, None)
        invalidated = getattr(record, _INVALIDATED, False)
        setattr(record, _STARTED, started)
        setattr(record, _INVALIDATED, False)
        if previous is None or invalidated:
            return
        pool = getattr(record, "_ConnectionRecord__pool", None)
        if pool is not None and pool._invalidate_time > previous:
            self.recorder.count_invalidation(soft=False)

    def _on_invalidate(
        self,
        dbapi_connection: Any,
        connection_record: ConnectionPoolEntry,
        exception: BaseException | None,
    ) -> None:
        # Its replacement, if any, is not counted again.
        setattr(connection_record, _INVALIDATED, True)
        self._count_invalidation(soft=False)

    def _on_soft_invalidate(
        self,
        dbapi_connection: Any,
        connection_record: ConnectionPoolEntry,
        exception: BaseException | None,
    ) -> None:
        self._count_invalidation(soft=True)

    def _count_invalidation(self, *, soft: bool) -> None:
        try:
            if self._pool_class._poolscope_probe is not None:
                self.recorder.count_invalidation(soft=soft)
        except Exception as error:
            self.probe.failed(error)


def _measuring_class(
    current: type[QueuePool], probe: PoolMeasurements
) -> type[InstrumentedQueuePool]:
    """The class an instrumented pool of class ``current`` takes on: ``current`` with
    poolscope's methods and ``probe``, logging under ``current``'s logger name."""
    if current in MEASURING_CLASSES:
        bases: tuple[type[QueuePool], ...] = (MEASURING_CLASSES[current],)
    elif issubclass(current, InstrumentedQueuePool):
        bases = (current,)
    else:
        bases = (InstrumentedQueuePool, current)
    # A subclass of InstrumentedQueuePool may override connect(): measure what it returns.
    own_connect = current.connect if current.connect is not Pool.connect else None
    pool_class: type[InstrumentedQueuePool] = type(
        f"Poolscope{current.__name__}",
        bases,
        {
            "_poolscope_probe": probe,
            "_sqla_logger_namespace": logger_name(current),
            "connect": measuring_connect(probe, *([own_connect] if own_connect else [])),
            "__module__": __name__,
        },
    )
    shorten_checkin(pool_class)
    return pool_class


# Why the pools SQLAlchemy ships besides QueuePool cannot be measured.
_WHY_NOT: dict[str, str] = {
    "NullPool": "opens and closes a connection per checkout: there is no pool to wait for",
    "StaticPool": "hands every checkout the same single connection",
    "SingletonThreadPool": "keeps one connection per thread, with no waiting and no limit",
    "AssertionPool": "allows one checkout at a time and raises on a second",
}


def _unmeasurable_pool(pool_class: type[Pool]) -> str:
    name = pool_class.__name__
    why = next(
        (_WHY_NOT[klass.__name__] for klass in pool_class.__mro__ if klass.__name__ in _WHY_NOT),
        None,
    )
    return (
        f"poolscope measures QueuePool and AsyncAdaptedQueuePool (the default pools of "
        f"create_engine() and create_async_engine()) and their subclasses; this engine uses "
        f"{name}{f', which {why}' if why else ''}. Leave out poolclass=, or pass "
        "poolclass=poolscope.InstrumentedQueuePool (InstrumentedAsyncAdaptedQueuePool for "
        "an AsyncEngine)"
    )


def _idle_records(pool: QueuePool) -> list[ConnectionPoolEntry]:
    queue = getattr(getattr(pool, "_pool", None), "queue", ())
    return list(queue)
