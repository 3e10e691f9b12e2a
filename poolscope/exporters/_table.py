"""The metric table both exporters build from: each pool metric's labels and buckets.

``poolscope.metrics`` names the metrics and says their kind (``GAUGES``, ``COUNTERS``,
``HISTOGRAMS``); what a series is labelled with and which buckets a histogram has are said
here once, so the registry's families and the multiprocess files' metric objects cannot
disagree.
"""

from __future__ import annotations

from poolscope import metrics as names

__all__ = ["MAXIMA", "buckets_of", "labels_of"]

# Beyond ``pool``, which every pool series carries (and ``route``, which the series in
# ``names.ROUTE_SERIES`` carry).
_EXTRA_LABELS = {
    names.CONNECTION_COUNT: (names.STATE_LABEL,),
    names.POOL_INVALIDATIONS: (names.SOFT_LABEL,),
}
# Gauges of the largest value seen: across processes, the largest of them, not the sum.
MAXIMA = frozenset({names.POOL_WAIT_TIME_MAX, names.POOL_USE_TIME_MAX, names.POOL_IDLE_TIME_MAX})


def labels_of(name: str) -> list[str]:
    """The label names of pool metric ``name``, ``pool`` first."""
    if name in names.ROUTE_SERIES:
        return [names.POOL_LABEL, names.ROUTE_LABEL]
    return [names.POOL_LABEL, *_EXTRA_LABELS.get(name, ())]


def buckets_of(name: str) -> tuple[float, ...]:
    """The upper bounds of histogram ``name``: the fine ones, or OpenTelemetry's defaults."""
    return names.FINE_BUCKETS if name in names.FINE_HISTOGRAMS else names.DEFAULT_BUCKETS
