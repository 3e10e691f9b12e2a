"""Histogram buckets filled in bulk: the hot path appends raw durations to a plain list
(``list.append`` is atomic), and a scrape takes them out and sorts them into buckets, a
few C-level passes instead of a search per observation.

The counts are kept in ``FINE_BUCKETS``, which split every one of ``DEFAULT_BUCKETS``: the
default-bucket histogram is their sums, exactly. The fold also keeps the exact maximum.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TypeVar

from prometheus_client.utils import floatToGoString

from poolscope.metrics import DEFAULT_BUCKETS, FINE_BUCKETS

__all__ = ["BOUNDS", "FINE_BOUNDS", "Buckets", "pop_all"]

BOUNDS: tuple[float, ...] = DEFAULT_BUCKETS
FINE_BOUNDS: tuple[float, ...] = FINE_BUCKETS


def _le(bounds: tuple[float, ...]) -> list[str]:
    return [*(str(floatToGoString(bound)) for bound in bounds), "+Inf"]  # type: ignore[no-untyped-call]


_LE = _le(BOUNDS)
_FINE_LE = _le(FINE_BOUNDS)
# Per default bucket, the index one past its last fine bucket (+Inf last).
_COARSE_ENDS = [FINE_BOUNDS.index(bound) + 1 for bound in BOUNDS] + [len(FINE_BOUNDS) + 1]


_Value = TypeVar("_Value")


def pop_all(values: list[_Value]) -> list[_Value]:
    """Remove and return what ``values`` holds now; appends made meanwhile stay in it
    (each of the two list operations is atomic, and appends land past the slice)."""
    count = len(values)
    taken = values[:count]
    del values[:count]
    return taken


class Buckets:
    """Per-bucket counts in ``FINE_BOUNDS`` (``value <= bound``, last one +Inf), the sum and
    the largest value (None before the first); callers lock."""

    __slots__ = ("counts", "max", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(FINE_BOUNDS) + 1)
        self.sum = 0.0
        self.max: float | None = None

    def add(self, value: float) -> None:
        self.add_all([value])

    def add_all(self, values: list[float]) -> None:
        if not values:
            return
        values.sort()
        below = 0
        counts = self.counts
        for index, bound in enumerate(FINE_BOUNDS):
            upto = bisect_right(values, bound)  # values <= bound
            counts[index] += upto - below
            below = upto
        counts[-1] += len(values) - below
        self.sum += sum(values)
        if self.max is None or values[-1] > self.max:
            self.max = values[-1]

    def merge(self, other: Buckets) -> None:
        self.counts = [
            mine + theirs for mine, theirs in zip(self.counts, other.counts, strict=True)
        ]
        self.sum += other.sum
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max

    def copy(self) -> Buckets:
        copied = Buckets()
        copied.counts = list(self.counts)
        copied.sum = self.sum
        copied.max = self.max
        return copied

    @property
    def count(self) -> int:
        return sum(self.counts)

    def coarse_counts(self) -> list[int]:
        """Per-bucket counts in ``BOUNDS`` (DEFAULT_BUCKETS), +Inf last."""
        coarse = []
        start = 0
        for end in _COARSE_ENDS:
            coarse.append(sum(self.counts[start:end]))
            start = end
        return coarse

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, count)`` pairs in DEFAULT_BUCKETS as Prometheus exposes them: cumulative,
        ending at +Inf."""
        return _cumulative(_LE, self.coarse_counts())

    def fine_cumulative(self) -> list[tuple[str, float]]:
        """The same in FINE_BUCKETS."""
        return _cumulative(_FINE_LE, self.counts)


def _cumulative(les: list[str], counts: list[int]) -> list[tuple[str, float]]:
    running = 0
    pairs = []
    for le, count in zip(les, counts, strict=True):
        running += count
        pairs.append((le, float(running)))
    return pairs
