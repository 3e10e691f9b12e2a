"""Histogram buckets filled in bulk: the hot path appends raw durations to a plain list
(``list.append`` is atomic), and a scrape takes them out and sorts them into buckets, a
few C-level passes instead of a search per observation."""

from __future__ import annotations

from bisect import bisect_right

from prometheus_client.utils import floatToGoString

from poolscope.metrics import DEFAULT_BUCKETS

__all__ = ["BOUNDS", "Buckets", "take"]

BOUNDS: tuple[float, ...] = DEFAULT_BUCKETS
_LE = [*(str(floatToGoString(bound)) for bound in BOUNDS), "+Inf"]  # type: ignore[no-untyped-call]


def take(values: list[float]) -> list[float]:
    """Remove and return what ``values`` holds now; appends made meanwhile stay in it
    (each of the two list operations is atomic, and appends land past the slice)."""
    count = len(values)
    taken = values[:count]
    del values[:count]
    return taken


class Buckets:
    """Per-bucket counts (``value <= bound``, last one +Inf) and the sum; callers lock."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)
        self.sum = 0.0

    def add(self, value: float) -> None:
        self.add_all([value])

    def add_all(self, values: list[float]) -> None:
        if not values:
            return
        values.sort()
        below = 0
        counts = self.counts
        for index, bound in enumerate(BOUNDS):
            upto = bisect_right(values, bound)  # values <= bound
            counts[index] += upto - below
            below = upto
        counts[-1] += len(values) - below
        self.sum += sum(values)

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
