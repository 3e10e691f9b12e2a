"""One pool recorded by two exporters at once (Prometheus and OpenTelemetry): the
``TeeRecorder`` in front of both.

The hot path still appends each duration to one list, the tee's own. Whenever either
exporter folds its durations (a scrape, a collection, a flush, a checkin past
``DRAIN_AT``), it first calls the tee, which moves what its lists hold into both
exporters' lists: each value reaches each exporter once, whichever folds first. Rare
events go to both at once.
"""

from __future__ import annotations

import threading

from poolscope._histogram import take
from poolscope._recorder import LivePool, RawDurations, Recorder

__all__ = ["TeeRecorder"]


class TeeRecorder(RawDurations):
    """The recorder of an engine that ``instrument()`` gave both a registry and a
    ``meter_provider``; ``first`` and ``second`` are those exporters' recorders of its
    pool name (shared with the other engines of that name, as usual)."""

    def __init__(self, first: Recorder, second: Recorder) -> None:
        super().__init__()
        self.name = first.name
        self.recorders = (first, second)
        # One taker at a time: take() is two list operations.
        self._move_lock = threading.Lock()

    def move(self) -> None:
        """Move the raw durations into both recorders' lists (their feeder)."""
        with self._move_lock:
            waits = take(self.waits)
            uses = {route: take(values) for route, values in list(self.uses.items()) if values}
        for recorder in self.recorders:
            if waits:
                recorder.waits.extend(waits)
            for route, values in uses.items():
                recorder.uses_for(route).extend(values)

    def drain(self) -> None:
        # Not under the move lock: each recorder's fold calls move() again.
        self.move()
        for recorder in self.recorders:
            recorder.drain()

    def waiting(self, *, started: bool) -> None:
        for recorder in self.recorders:
            recorder.waiting(started=started)

    def observe_timeout(self, waited: float) -> None:
        for recorder in self.recorders:
            recorder.observe_timeout(waited)

    def observe_create(self, seconds: float) -> None:
        for recorder in self.recorders:
            recorder.observe_create(seconds)

    def count_invalidation(self, *, soft: bool) -> None:
        for recorder in self.recorders:
            recorder.count_invalidation(soft=soft)

    def count_error(self) -> None:
        for recorder in self.recorders:
            recorder.count_error()

    def count_leak(self) -> None:
        for recorder in self.recorders:
            recorder.count_leak()

    def count_gc_reclaimed(self) -> None:
        for recorder in self.recorders:
            recorder.count_gc_reclaimed()

    def write_leaked(self, count: int) -> None:
        for recorder in self.recorders:
            recorder.write_leaked(count)

    def attach(self, live_pool: LivePool) -> None:
        for recorder in self.recorders:
            recorder.add_feeder(self.move)
            recorder.attach(live_pool)

    def detach(self, live_pool: LivePool) -> None:
        # Whatever the hot path still holds goes to both before they let the engine go.
        self.move()
        for recorder in self.recorders:
            recorder.remove_feeder(self.move)
            recorder.detach(live_pool)
