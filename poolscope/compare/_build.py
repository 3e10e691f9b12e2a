"""Turning runs into rows: which figures a comparison shows and how each is measured."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from poolscope.compare._inputs import LoadedRun
from poolscope.compare._model import (
    Assessment,
    Better,
    Cell,
    Change,
    Comparison,
    Figure,
    Kind,
    Row,
    RunColumn,
    Unit,
)
from poolscope.compare._notes import notes, warnings
from poolscope.compare._stats import (
    Interval,
    histogram_quantile_interval,
    overlap,
    rate_interval,
    sample_quantile_interval,
)
from poolscope.compare._verdict import verdicts
from poolscope.loadtest import EndpointStats, Histogram, RouteHolds, Run, TimingSummary

__all__ = ["build_comparison", "column_labels"]

QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


@dataclass(frozen=True)
class _Spec:
    figure: Figure
    measure: Callable[[Run], Cell]


def _spec(
    key: str,
    label: str,
    group: str,
    unit: Unit,
    kind: Kind,
    better: Better | None,
    measure: Callable[[Run], Cell],
) -> _Spec:
    figure = Figure(key=key, label=label, group=group, unit=unit, kind=kind, better=better)
    return _Spec(figure, measure)


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


def _exact(value: float | None) -> Cell:
    return Cell(value=_finite(value))


def _estimate(value: float | None, interval: Interval | None, observations: int | None) -> Cell:
    value = _finite(value)
    if value is None or interval is None:
        return Cell(value=value, observations=observations)
    return Cell(
        value=value,
        # The reported figure and the interval may come from slightly different
        # estimators (Locust's own, Prometheus'); the interval always covers the figure.
        low=min(interval.low, value),
        high=max(interval.high, value),
        observations=interval.observations,
    )


def _record_size(counts: dict[str, int]) -> int | None:
    total = sum(count for count in counts.values() if isinstance(count, int) and count > 0)
    return total if counts else None


def _latency(
    stats: Callable[[Run], EndpointStats | None], name: str, quantile: float
) -> Callable[[Run], Cell]:
    def measure(run: Run) -> Cell:
        found = stats(run)
        if found is None:
            return Cell(value=None)
        milliseconds = getattr(found.latency_ms, name)
        value = None if _finite(milliseconds) is None else milliseconds / 1000.0
        interval = sample_quantile_interval(found.response_times, quantile)
        return _estimate(value, interval, _record_size(found.response_times))

    return measure


def _total_stats(run: Run) -> EndpointStats | None:
    if run.locust is None:
        return None
    totals = run.locust
    return EndpointStats(
        method="",
        name="all",
        requests=totals.requests,
        failures=totals.failures,
        requests_per_second=totals.requests_per_second,
        latency_ms=totals.latency_ms,
        response_times=totals.response_times,
    )


def _endpoint_name(endpoint: EndpointStats) -> str:
    return f"{endpoint.method} {endpoint.name}".strip()


def _endpoint(name: str) -> Callable[[Run], EndpointStats | None]:
    def find(run: Run) -> EndpointStats | None:
        if run.locust is None:
            return None
        return next((e for e in run.locust.endpoints if _endpoint_name(e) == name), None)

    return find


def _rps(run: Run) -> Cell:
    if run.locust is None:
        return Cell(value=None)
    interval = rate_interval(run.locust.requests, run.locust.requests_per_second)
    return _estimate(run.locust.requests_per_second, interval, run.locust.requests)


def _locust_count(field: str) -> Callable[[Run], Cell]:
    def measure(run: Run) -> Cell:
        return _exact(None if run.locust is None else getattr(run.locust, field))

    return measure


def _pool_count(field: str) -> Callable[[Run], Cell]:
    def measure(run: Run) -> Cell:
        return _exact(None if run.pool is None else getattr(run.pool, field))

    return measure


def _timing(which: str, name: str, quantile: float) -> Callable[[Run], Cell]:
    def measure(run: Run) -> Cell:
        if run.pool is None or getattr(run.pool, which) is None:
            return Cell(value=None)
        summary: TimingSummary = getattr(run.pool, which)
        histogram: Histogram | None = getattr(run.pool, f"{which}_histogram")
        if histogram is None:
            return _estimate(getattr(summary, name), None, None)
        interval = histogram_quantile_interval(histogram, quantile)
        return _estimate(getattr(summary, name), interval, histogram.count)

    return measure


def _timing_max(which: str) -> Callable[[Run], Cell]:
    def measure(run: Run) -> Cell:
        if run.pool is None or getattr(run.pool, which) is None:
            return Cell(value=None)
        summary: TimingSummary = getattr(run.pool, which)
        histogram: Histogram | None = getattr(run.pool, f"{which}_histogram")
        if summary.max_exact or histogram is None:
            return _exact(summary.max)
        # Read from the buckets (an older run file, or a target without exact maxima): as
        # uncertain as the bucket it lies in.
        bucket = histogram.bucket_at_rank(histogram.count)
        if bucket is None:
            return _exact(summary.max)
        interval = Interval(low=bucket[0], high=bucket[1], observations=histogram.count)
        return _estimate(summary.max, interval, histogram.count)

    return measure


def _max_kind(runs: Sequence[Run], which: str) -> Kind:
    exact = all(
        run.pool is None or getattr(run.pool, which) is None or getattr(run.pool, which).max_exact
        for run in runs
    )
    return "exact" if exact else "estimate"


def _busy_share(run: Run) -> Cell:
    return _exact(None if run.pool is None else run.pool.busy_share)


def _route(name: str) -> Callable[[Run], RouteHolds | None]:
    def find(run: Run) -> RouteHolds | None:
        if run.pool is None:
            return None
        return next((route for route in run.pool.routes if route.route == name), None)

    return find


def _route_hold(name: str) -> Callable[[Run], Cell]:
    def measure(run: Run) -> Cell:
        found = _route(name)(run)
        return _exact(None if found is None else found.mean_hold)

    return measure


def _route_busy_share(name: str) -> Callable[[Run], Cell]:
    def measure(run: Run) -> Cell:
        found = _route(name)(run)
        return _exact(None if found is None else found.busy_share)

    return measure


def _route_names(runs: Sequence[Run]) -> list[str]:
    names: list[str] = []
    for run in runs:
        for route in run.pool.routes if run.pool else []:
            if route.route not in names:
                names.append(route.route)
    return names


def _endpoint_names(runs: Sequence[Run]) -> list[str]:
    names: list[str] = []
    for run in runs:
        for endpoint in run.locust.endpoints if run.locust else []:
            name = _endpoint_name(endpoint)
            if name not in names:
                names.append(name)
    return names


def _specs(runs: Sequence[Run]) -> list[_Spec]:
    # Each figure: key, label, group, unit, kind, which way is better, how a run measures it.
    specs = [
        _spec("rps", "requests/s", "load", "per_second", "estimate", "higher", _rps),
        _spec("requests", "requests", "load", "count", "exact", None, _locust_count("requests")),
        _spec("failures", "failures", "load", "count", "exact", "lower", _locust_count("failures")),
    ]
    for name, quantile in QUANTILES:
        label, latency = f"latency {name}", _latency(_total_stats, name, quantile)
        specs.append(_spec(name, label, "latency", "seconds", "estimate", "lower", latency))
    # A run with one endpoint only: its rows would repeat the totals.
    several = any(run.locust is not None and len(run.locust.endpoints) > 1 for run in runs)
    for endpoint in _endpoint_names(runs) if several else []:
        for name, quantile in QUANTILES:
            key, label = f"{name}[{endpoint}]", f"latency {name} {endpoint}"
            latency = _latency(_endpoint(endpoint), name, quantile)
            specs.append(_spec(key, label, "latency", "seconds", "estimate", "lower", latency))
    timings = [("wait", "pool wait"), ("use", "connection use")]
    if any(run.pool is not None and run.pool.idle is not None for run in runs):
        timings.append(("idle", "connection held idle"))
    for which, title in timings:
        for name, quantile in QUANTILES:
            key, label = f"{which}_{name}", f"{title} {name}"
            timing = _timing(which, name, quantile)
            specs.append(_spec(key, label, "pool", "seconds", "estimate", "lower", timing))
        key, label, kind = f"{which}_max", f"{title} max", _max_kind(runs, which)
        specs.append(_spec(key, label, "pool", "seconds", kind, "lower", _timing_max(which)))
    counts: tuple[tuple[str, str, Better | None], ...] = (
        ("checkouts", "checkouts", None),
        ("timeouts", "checkout timeouts", "lower"),
        ("connects", "connections opened", "lower"),
        ("pools_created", "pools created", "lower"),
        ("max_used", "max used connections (sampled)", None),
        ("max_pending", "max pending checkouts (sampled)", "lower"),
        ("max_overflow", "max overflow (sampled)", "lower"),
        ("leaks", "leaks detected", "lower"),
        ("gc_reclaimed", "reclaimed by GC", "lower"),
    )
    for key, label, better in counts:
        specs.append(_spec(key, label, "pool", "count", "exact", better, _pool_count(key)))
    if any(run.pool is not None and run.pool.busy_share is not None for run in runs):
        label = "busy share (in statements)"
        specs.append(_spec("busy_share", label, "pool", "share", "exact", "higher", _busy_share))
        for route in _route_names(runs):
            shown = route or "(no route)"
            hold, busy = _route_hold(route), _route_busy_share(route)
            label = f"hold per checkout {shown}"
            specs.append(
                _spec(f"hold[{route}]", label, "routes", "seconds", "exact", "lower", hold)
            )
            label = f"busy share {shown}"
            specs.append(
                _spec(f"busy_share[{route}]", label, "routes", "share", "exact", "higher", busy)
            )
    return specs


def _direction(better: Better | None, difference: float) -> Assessment:
    if better is None:
        return "changed"
    return "better" if (difference < 0) == (better == "lower") else "worse"


def _assess(kind: Kind, better: Better | None, base: Cell, other: Cell) -> Change:
    if base.value is None or other.value is None:
        return Change(ratio=None, difference=None, assessment="unknown")
    difference = _finite(other.value - base.value)
    ratio = _finite(other.value / base.value) if base.value > 0 else None
    assessment: Assessment
    if difference is None:
        assessment = "unknown"
    elif difference == 0:
        assessment = "same"
    elif kind == "exact":
        assessment = _direction(better, difference)
    elif (base_interval := _interval(base)) and (other_interval := _interval(other)):
        noise = overlap(base_interval, other_interval)
        assessment = "noise" if noise else _direction(better, difference)
    elif _too_few(base) or _too_few(other):
        assessment = "noise"
    else:
        # No per-request record to put an interval on: cannot tell noise from change.
        assessment = "unknown"
    return Change(ratio=ratio, difference=difference, assessment=assessment)


def _too_few(cell: Cell) -> bool:
    """A record exists but holds too few observations for an interval."""
    return cell.observations is not None and cell.low is None


def _interval(cell: Cell) -> Interval | None:
    if cell.low is None or cell.high is None:
        return None
    return Interval(low=cell.low, high=cell.high, observations=cell.observations or 0)


def _duration(run: Run) -> float | None:
    try:
        return _finite((run.finished_at - run.started_at).total_seconds())
    except (TypeError, OverflowError):  # a naive and an aware time in a damaged file
        return None


def column_labels(runs: Sequence[LoadedRun]) -> list[str]:
    """Short unique names for the columns: the variant, else scenario/variant, else file."""
    for candidate in (
        [item.run.variant for item in runs],
        [f"{item.run.scenario}/{item.run.variant}" for item in runs],
        [item.path.stem for item in runs],
    ):
        if len(set(candidate)) == len(candidate):
            return candidate
    return [f"{item.path.stem} #{index}" for index, item in enumerate(runs, start=1)]


def build_comparison(runs: Sequence[LoadedRun]) -> Comparison:
    labels = column_labels(runs)
    rows = []
    for spec in _specs([item.run for item in runs]):
        cells = [spec.measure(item.run) for item in runs]
        changes: list[Change | None] = [None]
        figure = spec.figure
        changes.extend(_assess(figure.kind, figure.better, cells[0], cell) for cell in cells[1:])
        rows.append(Row(**figure.model_dump(), cells=cells, changes=changes))
    columns = [
        RunColumn(
            label=label,
            path=str(item.path),
            scenario=item.run.scenario,
            variant=item.run.variant,
            complete=item.run.complete,
            started_at=item.run.started_at,
            duration_seconds=_duration(item.run),
            pool_size=item.run.configuration.pool_size,
            max_overflow=item.run.configuration.max_overflow,
        )
        for item, label in zip(runs, labels, strict=True)
    ]
    return Comparison(
        runs=columns,
        rows=rows,
        verdicts=verdicts(columns, rows, [item.run for item in runs]),
        warnings=warnings(runs, labels),
        notes=notes(runs, labels),
    )
