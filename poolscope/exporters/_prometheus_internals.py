"""The one place poolscope reaches into prometheus_client's private attributes.

prometheus_client has no public call that adds many observations to a histogram at once,
and multiprocess mode pays a lock and a file write per value written: folding a batch of
durations into one write per bucket needs a histogram child's per-bucket values
(``_buckets``) and its sum (``_sum``). ``pyproject.toml`` bounds prometheus-client to the
majors CI installs, and ``tests/core/test_prometheus_internals.py`` pins what is used
here against the oldest and the newest of them (``nox -s lowest`` and ``make test``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import values

__all__ = ["add_to_histogram", "values_live_in_files"]


def add_to_histogram(histogram: Any, counts: Sequence[int], total: float) -> None:
    """What ``observe()`` of each value would do to a labelled histogram child: ``counts``
    per bucket (not cumulative, value <= bound, in the child's own buckets, ``+Inf`` last)
    and ``total``, their sum, in one write per bucket and one for the sum."""
    for value, count in zip(histogram._buckets, counts, strict=True):
        if count:
            value.inc(count)
    histogram._sum.inc(total)


def values_live_in_files() -> bool:
    """Whether prometheus_client writes values to ``PROMETHEUS_MULTIPROC_DIR``'s files (it
    chose when it was first imported)."""
    return values.ValueClass is not values.MutexValue
