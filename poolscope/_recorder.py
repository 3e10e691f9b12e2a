"""The ``Recorder`` protocol both exporters implement, and the small object each
instrumented pool carries (``PoolMeasurements``).

The hot path (checkout, checkin) takes no lock and searches no bucket: it appends each
duration to a list (``list.append`` is atomic), and an exporter folds them into buckets
later: at a scrape, in a background flush, or at the checkin that finds a list past
``DRAIN_AT``. Rare events (timeouts, new connections, invalidations, errors, leaks) go
to the recorder directly. The pool and ``instrument()`` talk to a ``Recorder`` only; which
exporter stands behind it (or which two) is decided once, when the recorder is made.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.pool import ConnectionPoolEntry

from poolscope._holds import Hold
from poolscope._leaks import Checkout, log_gc_reclaimed
from poolscope._pool_state import PoolState

__all__ = ["DRAIN_AT", "LivePool", "PoolMeasurements", "RawDurations", "Recorder"]

# Raw durations kept before the checkin that notices folds them into buckets: sorting
# them costs more per value once a list outgrows the CPU cache.
DRAIN_AT = 1024

logger = logging.getLogger("poolscope.instrument")

CheckoutHook = Callable[[Checkout, ConnectionPoolEntry], None]


class LivePool(Protocol):
    """An instrumented engine as an exporter reads it: its state and its leaks now."""

    def state(self) -> PoolState: ...

    def leaked_connections(self) -> int: ...


class Recorder(Protocol):
    """Where one pool name's measurements go (a registry, or multiprocess files).

    ``waits`` and ``uses_for()`` are the hot path's lists; ``drain()`` folds them. A
    recorder that stands in front of others (one pool recorded by two exporters) moves
    its lists into theirs: each of them calls its feeders before it folds.
    """

    name: str
    waits: list[float]

    def uses_for(self, route: str) -> list[Hold]: ...

    def drain(self) -> None: ...

    def add_feeder(self, feeder: Callable[[], None]) -> None:
        """Call ``feeder`` (which fills ``waits`` and ``uses``) at the start of each fold."""

    def remove_feeder(self, feeder: Callable[[], None]) -> None: ...

    def waiting(self, *, started: bool) -> None:
        """A caller started (or stopped) waiting for a connection."""

    def observe_timeout(self, waited: float) -> None: ...

    def observe_create(self, seconds: float) -> None: ...

    def count_invalidation(self, *, soft: bool) -> None: ...

    def count_error(self) -> None: ...

    def count_leak(self) -> None: ...

    def count_gc_reclaimed(self) -> None: ...

    def write_leaked(self, count: int) -> None:
        """How many connections are leaked now, told whenever it changes."""

    def attach(self, live_pool: LivePool) -> None:
        """One more engine carries this pool name (counted in ``pools_created``)."""

    def detach(self, live_pool: LivePool) -> None:
        """The engine is closed or gone."""


class RawDurations:
    """What the hot path appends and no drain has folded into buckets yet: the waits of
    successful checkouts, and the holds by route (see ``poolscope._holds``)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.uses: dict[str, list[Hold]] = {}
        self._uses_lock = threading.Lock()
        # Replaced, never changed in place: a fold iterates it without a lock.
        self._feeders: tuple[Callable[[], None], ...] = ()

    def add_feeder(self, feeder: Callable[[], None]) -> None:
        with self._uses_lock:
            self._feeders = (*self._feeders, feeder)

    def remove_feeder(self, feeder: Callable[[], None]) -> None:
        with self._uses_lock:
            self._feeders = tuple(known for known in self._feeders if known != feeder)

    def pull(self) -> None:
        """Let the feeders fill the lists; each fold calls it first."""
        for feeder in self._feeders:
            feeder()

    def uses_for(self, route: str) -> list[Hold]:
        """The raw holds of ``route``, made on its first checkout."""
        with self._uses_lock:
            return self.uses.setdefault(route, [])


class PoolMeasurements:
    """The per-engine object an instrumented pool class carries: the lists the hot path
    appends to, the hook leak detection attaches to a checkout, and gc reporting."""

    __slots__ = (
        "checkout_hook",
        "drain",
        "leaked_connections",
        "pending",
        "recorder",
        "reported",
        "track",
        "uses_for",
        "waits",
    )

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        # Bound once: the hot path reaches them without a lookup on the recorder.
        self.waits: list[float] = recorder.waits
        self.uses_for: Callable[[str], list[Hold]] = recorder.uses_for
        self.drain: Callable[[], None] = recorder.drain
        # The callers (thread or greenlet) waiting in checkout; len() is pending_requests.
        self.pending: deque[Any] = deque()
        self.checkout_hook: CheckoutHook | None = None
        # Learns each record given a Checkout; set by Instrumentation to its leak tracker.
        self.track: Callable[[Any], None] = _nothing_with
        # Set by leak detection: how many connections are checked out too long now.
        self.leaked_connections: Callable[[], int] | None = None
        self.reported = False

    def gc_reclaimed(self, checkout: Checkout, connection_record: ConnectionPoolEntry) -> None:
        self.recorder.count_gc_reclaimed()
        log_gc_reclaimed(self.recorder.name, checkout, connection_record)

    def failed(self, error: BaseException) -> None:
        """An exception inside poolscope: counted, logged once per engine, never raised."""
        try:
            self.recorder.count_error()
            if not self.reported:
                self.reported = True
                logger.error(
                    "poolscope instrumentation of pool %r failed; the application is "
                    "unaffected, measurements may be incomplete (logged once)",
                    self.recorder.name,
                    exc_info=error,
                )
        except Exception:  # pragma: no cover - logging itself failed; stay silent
            pass


def _nothing_with(argument: Any) -> None:
    pass
