"""Histogram buckets filled off the hot path: checkouts append raw durations to a deque
(thread-safe appends, no lock) and these buckets absorb them at scrape time."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client.utils import floatToGoString

from poolscope._names import DEFAULT_BUCKETS

__all__ = ["BOUNDS", "Buckets"]

BOUNDS: tuple[float, ...] = DEFAULT_BUCKETS
_LE = [*(str(floatToGoString(bound)) for bound in BOUNDS), "+Inf"]  # type: ignore[no-untyped-call]


class Buckets:
    """Per-bucket counts (``value <= bound``, last one +Inf) and the sum; callers lock."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)
        self.sum = 0.0

    def add(self, value: float) -> None:
        self.counts[bisect_left(BOUNDS, value)] += 1
        self.sum += value

    def add_all(self, values: Iterable[float]) -> None:
        counts = self.counts
        total = 0.0
        for value in values:
            counts[bisect_left(BOUNDS, value)] += 1
            total += value
        self.sum += total

    def merge(self, other: Buckets) -> None:
        self.counts = [
            mine + theirs for mine, theirs in zip(self.counts, other.counts, strict=True)
        ]
        self.sum += other.sum

    def copy(self) -> Buckets:
        copied = Buckets()
        copied.counts = list(self.counts)
        copied.sum = self.sum
        return copied

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, count)`` pairs as Prometheus exposes them: cumulative, ending at +Inf."""
        running = 0
        pairs = []
        for le, count in zip(_LE, self.counts, strict=True):
            running += count
            pairs.append((le, float(running)))
        return pairs
