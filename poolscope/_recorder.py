"""What one pool name has measured, and the small object each instrumented pool carries.

The hot path (checkout, checkin) takes no lock and searches no bucket: it appends each
duration to a list (``list.append`` is atomic), and a scrape, or the checkin that finds a
list past ``DRAIN_AT``, sorts them into buckets under the recorder's lock. Rare events
(timeouts, new connections, invalidations, errors, leaks) count under that lock directly.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.pool import ConnectionPoolEntry

from poolscope._histogram import Buckets, take
from poolscope._leaks import Checkout, log_gc_reclaimed

if TYPE_CHECKING:
    from poolscope.exporters._multiprocess import MultiprocessRecorder

__all__ = ["DRAIN_AT", "PoolRecorder", "Probe", "RawDurations", "Recorder", "RecorderSnapshot"]

# Raw durations kept for a scrape; past this many, the checkin that notices drains them.
# Sorting 1,024 floats costs ~40 ns a value here, 8,192 of them ~100 ns (cache misses).
DRAIN_AT = 1024

logger = logging.getLogger("poolscope.instrument")

CheckoutHook = Callable[[Checkout, ConnectionPoolEntry], None]


class Recorder(Protocol):
    """What both modes record outside the checkout/checkin hot path."""

    name: str

    def observe_create(self, seconds: float) -> None: ...

    def count_invalidation(self, *, soft: bool) -> None: ...

    def count_error(self) -> None: ...

    def count_leak(self) -> None: ...

    def count_gc_reclaimed(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class RecorderSnapshot:
    """The measured series of one pool name at one moment (gauges excepted)."""

    wait: Buckets
    use: dict[str, Buckets]
    create: Buckets
    checkouts: int
    timeouts: int
    invalidations: dict[bool, int]
    pools_created: int
    errors: int
    leaks: int = 0
    gc_reclaimed: int = 0


class RawDurations:
    """What the hot path appends and no drain has folded into buckets yet: the waits of
    successful checkouts, and the uses by route."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.uses: dict[str, list[float]] = {}
        self._uses_lock = threading.Lock()

    def uses_for(self, route: str) -> list[float]:
        """The raw use durations of ``route``, made on its first checkout."""
        with self._uses_lock:
            return self.uses.setdefault(route, [])


class PoolRecorder(RawDurations):
    """Every measurement for one pool name in one registry, shared by the engines that
    carry that name, so counters keep counting when an engine is replaced."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.lock = threading.Lock()
        self._wait = Buckets()
        self._use: dict[str, Buckets] = {}
        self._checkouts = 0
        self._create = Buckets()
        self._timeouts = 0
        self._invalidations = {False: 0, True: 0}
        self._errors = 0
        self._leaks = 0
        self._gc_reclaimed = 0
        self.pools_created = 0

    def drain(self) -> None:
        with self.lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        waits = take(self.waits)
        self._checkouts += len(waits)
        self._wait.add_all(waits)
        for route, values in list(self.uses.items()):
            if values:
                self._use.setdefault(route, Buckets()).add_all(take(values))

    def observe_timeout(self, waited: float) -> None:
        with self.lock:
            self._wait.add(waited)
            self._timeouts += 1

    def observe_create(self, seconds: float) -> None:
        with self.lock:
            self._create.add(seconds)

    def count_invalidation(self, *, soft: bool) -> None:
        with self.lock:
            self._invalidations[soft] += 1

    def count_error(self) -> None:
        with self.lock:
            self._errors += 1

    def count_leak(self) -> None:
        with self.lock:
            self._leaks += 1

    def count_gc_reclaimed(self) -> None:
        with self.lock:
            self._gc_reclaimed += 1

    def snapshot(self) -> RecorderSnapshot:
        with self.lock:
            self._drain_locked()
            return RecorderSnapshot(
                wait=self._wait.copy(),
                use={route: buckets.copy() for route, buckets in self._use.items()},
                create=self._create.copy(),
                checkouts=self._checkouts,
                timeouts=self._timeouts,
                invalidations=dict(self._invalidations),
                pools_created=self.pools_created,
                errors=self._errors,
                leaks=self._leaks,
                gc_reclaimed=self._gc_reclaimed,
            )


class Probe:
    """The per-engine object an instrumented pool class carries: the lists the hot path
    appends to, the hook leak detection attaches to a checkout, and gc reporting."""

    __slots__ = (
        "checkout_hook",
        "drain",
        "leaked_connections",
        "multiprocess",
        "pending",
        "recorder",
        "reported",
        "track",
        "uses_for",
        "waits",
    )

    def __init__(self, recorder: PoolRecorder | MultiprocessRecorder) -> None:
        self.recorder: Recorder = recorder
        self.multiprocess: MultiprocessRecorder | None
        self.waits: list[float]
        self.uses_for: Callable[[str], list[float]]
        self.drain: Callable[[], None]
        self.multiprocess = None if isinstance(recorder, PoolRecorder) else recorder
        self.waits, self.uses_for = recorder.waits, recorder.uses_for
        self.drain = recorder.drain
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
