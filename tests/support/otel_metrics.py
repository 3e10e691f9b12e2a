"""Reading poolscope's OpenTelemetry points back from the SDK's in-memory reader, and
comparing them with the Prometheus series of the same pool."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Sum
from prometheus_client import CollectorRegistry
from prometheus_client.utils import floatToGoString

from poolscope import metrics as names

POOL_NAME = names.OTEL_POOL_NAME_ATTRIBUTE


@dataclass(frozen=True)
class Instrument:
    """One collected OpenTelemetry metric: its unit, kind and points by attributes."""

    unit: str
    monotonic: bool | None  # None: a histogram
    points: dict[frozenset[tuple[str, Any]], Any]


class OtelReading:
    """A ``MeterProvider`` with an in-memory reader; each ``collect()`` is one collection."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def collect(self) -> dict[str, Instrument]:
        data = self.reader.get_metrics_data()
        found: dict[str, Instrument] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                if scope.scope.name != names.OTEL_METER:
                    continue
                for metric in scope.metrics:
                    kind = metric.data
                    found[metric.name] = Instrument(
                        unit=metric.unit or "",
                        monotonic=kind.is_monotonic if isinstance(kind, Sum) else None,
                        points={
                            frozenset(dict(point.attributes or {}).items()): point
                            for point in kind.data_points
                        },
                    )
        return found

    def shutdown(self) -> None:
        self.provider.shutdown()


def value(
    collected: dict[str, Instrument], metric: str, pool: str, **attributes: Any
) -> float | None:
    """A counter's or gauge's value (``metric``: the Prometheus name), None if absent."""
    instrument = collected.get(names.OTEL_NAMES[metric])
    if instrument is None:
        return None
    point = instrument.points.get(frozenset({POOL_NAME: pool, **attributes}.items()))
    return None if point is None else point.value


def histogram(
    collected: dict[str, Instrument], metric: str, pool: str, **attributes: Any
) -> HistogramDataPoint | None:
    instrument = collected.get(names.OTEL_NAMES[metric])
    if instrument is None:
        return None
    point = instrument.points.get(frozenset({POOL_NAME: pool, **attributes}.items()))
    assert point is None or isinstance(point, HistogramDataPoint)
    return point


def assert_same_as_prometheus(
    collected: dict[str, Instrument], registry: CollectorRegistry, pool: str
) -> int:
    """Every OpenTelemetry point of ``pool`` equals the Prometheus series of the same
    measurement; returns how many were compared (so a caller sees nothing was skipped)."""
    compared = 0
    prometheus_label = {
        names.OTEL_STATE_ATTRIBUTE: names.STATE_LABEL,
        names.OTEL_ROUTE_ATTRIBUTE: names.ROUTE_LABEL,
        names.OTEL_SOFT_ATTRIBUTE: names.SOFT_LABEL,
    }
    for metric, otel_name in names.OTEL_NAMES.items():
        instrument = collected.get(otel_name)
        if instrument is None:
            continue
        for attributes, point in instrument.points.items():
            labels = dict(attributes)
            if labels.pop(POOL_NAME) != pool:
                continue
            prometheus = {names.POOL_LABEL: pool}
            for key, label_value in labels.items():
                prometheus[prometheus_label[key]] = (
                    str(label_value).lower() if isinstance(label_value, bool) else label_value
                )
            if metric in names.ROUTE_SERIES:
                prometheus.setdefault(names.ROUTE_LABEL, "")
            compared += 1
            if isinstance(point, HistogramDataPoint):
                assert list(point.explicit_bounds) == list(names.DEFAULT_BUCKETS), otel_name
                cumulative = list(itertools.accumulate(point.bucket_counts))
                for bound, count in zip([*names.DEFAULT_BUCKETS, "+Inf"], cumulative, strict=True):
                    le = bound if isinstance(bound, str) else floatToGoString(bound)
                    got = registry.get_sample_value(f"{metric}_bucket", {**prometheus, "le": le})
                    assert got == count, (otel_name, labels, le, got, count)
                assert registry.get_sample_value(f"{metric}_count", prometheus) == point.count
                prom_sum = registry.get_sample_value(f"{metric}_sum", prometheus)
                assert prom_sum is not None
                assert abs(prom_sum - point.sum) <= 1e-9 * max(1.0, prom_sum), otel_name
            else:
                suffix = "_total" if metric in names.COUNTERS else ""
                got = registry.get_sample_value(f"{metric}{suffix}", prometheus)
                assert got == point.value, (otel_name, labels, got, point.value)
    # And no Prometheus series without its OpenTelemetry point (a histogram nothing was
    # recorded into has none: the metrics API has no empty histogram).
    for family in registry.collect():
        if family.name not in names.OTEL_NAMES:
            continue
        label_sets = {
            frozenset((k, v) for k, v in sample.labels.items() if k != "le")
            for sample in family.samples
            if sample.labels.get(names.POOL_LABEL) == pool
            and not (family.type == "histogram" and _empty(registry, family.name, sample.labels))
        }
        instrument = collected.get(names.OTEL_NAMES[family.name])
        points = [] if instrument is None else instrument.points
        mine = [a for a in points if dict(a)[POOL_NAME] == pool]
        assert len(mine) == len(label_sets), (family.name, label_sets, mine)
    return compared


def _empty(registry: CollectorRegistry, metric: str, labels: dict[str, str]) -> bool:
    series = {k: v for k, v in labels.items() if k != "le"}
    return registry.get_sample_value(f"{metric}_count", series) == 0
