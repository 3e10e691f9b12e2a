"""What one pool name has measured, and the small object each instrumented pool carries.

The hot path (checkout, checkin) only appends to deques, whose appends and pops are
thread-safe without a lock; everything else (buckets, counters) changes under the
recorder's lock, either rarely (timeouts, new connections, invalidations) or when a scrape
or a full deque drains the raw durations into buckets.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.pool import ConnectionPoolEntry

from poolscope._histogram import Buckets
from poolscope._leaks import Checkout, log_gc_reclaimed

if TYPE_CHECKING:
    from poolscope._multiprocess import MultiprocessRecorder

__all__ = ["DRAIN_AT", "PoolRecorder", "Probe", "Recorder", "RecorderSnapshot"]

logger = logging.getLogger("poolscope.instrument")

# Raw durations waiting for a scrape; past this many, the checkin that notices drains them.
DRAIN_AT = 4096

CheckoutHook = Callable[[Checkout, ConnectionPoolEntry], None]


class Recorder(Protocol):
    """What both modes record outside the checkout/checkin hot path."""

    name: str

    def observe_timeout(self, waited: float) -> None: ...

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


class PoolRecorder:
    """Every measurement for one pool name in one registry, shared by the engines that
    carry that name, so counters keep counting when an engine is replaced."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.waits: deque[float] = deque()
        self.uses: deque[Checkout] = deque()
        self._wait = Buckets()
        self._use: dict[str, Buckets] = {}
        self._create = Buckets()
        self._timeouts = 0
        self._invalidations = {False: 0, True: 0}
        self._errors = 0
        self._leaks = 0
        self._gc_reclaimed = 0
        self.pools_created = 0
        self.probes: list[Probe] = []

    def drain(self) -> None:
        with self.lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        waits = self.waits
        if waits:
            self._wait.add_all([waits.popleft() for _ in range(len(waits))])
        uses = self.uses
        by_route = self._use
        for _ in range(len(uses)):
            checkout = uses.popleft()
            buckets = by_route.get(checkout.route)
            if buckets is None:
                buckets = by_route[checkout.route] = Buckets()
            buckets.add(checkout.ended - checkout.started)

    def observe_timeout(self, waited: float) -> None:
        with self.lock:
            self.waits.append(waited)
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
            wait = self._wait.copy()
            return RecorderSnapshot(
                wait=wait,
                use={route: buckets.copy() for route, buckets in self._use.items()},
                create=self._create.copy(),
                checkouts=wait.count - self._timeouts,
                timeouts=self._timeouts,
                invalidations=dict(self._invalidations),
                pools_created=self.pools_created,
                errors=self._errors,
                leaks=self._leaks,
                gc_reclaimed=self._gc_reclaimed,
            )


def _nothing() -> None:
    pass


class Probe:
    """The per-engine object an instrumented pool class carries: the deques the hot path
    appends to, the hook leak detection attaches to a checkout, and gc reporting."""

    __slots__ = (
        "checkout_hook",
        "drain",
        "leaked_connections",
        "multiprocess",
        "pending",
        "recorder",
        "reported",
        "uses",
        "waits",
    )

    def __init__(self, recorder: PoolRecorder | MultiprocessRecorder) -> None:
        self.recorder: Recorder = recorder
        self.waits: deque[float]
        self.uses: deque[Checkout]
        self.multiprocess: MultiprocessRecorder | None
        if isinstance(recorder, PoolRecorder):
            self.waits, self.uses, self.multiprocess = recorder.waits, recorder.uses, None
            self.drain: Callable[[], None] = recorder.drain
        else:
            self.waits, self.uses, self.multiprocess = deque(), deque(), recorder
            self.drain = _nothing
        # One element per caller blocked in checkout; len() is pending_requests.
        self.pending: deque[None] = deque()
        self.checkout_hook: CheckoutHook | None = None
        # Set by leak detection: how many connections are checked out too long now.
        self.leaked_connections: Callable[[], int] | None = None
        self.reported = False

    def gc_reclaimed(self, checkout: Checkout, connection_record: ConnectionPoolEntry) -> None:
        self.recorder.count_gc_reclaimed()
        log_gc_reclaimed(self.recorder.name, checkout, connection_record)

    def timed_out(self, waited: float) -> None:
        try:
            self.recorder.observe_timeout(waited)
        except Exception as error:
            self.failed(error)

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
