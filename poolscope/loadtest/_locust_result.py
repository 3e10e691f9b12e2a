"""Reading what a headless Locust run wrote: ``--json-file`` (per-endpoint statistics with
Locust's own response-time record) and ``--csv`` (failures, and a fallback when Locust
died before writing its JSON)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolscope.readings import EndpointStats, LatencySummary, LocustTotals

__all__ = [
    "LiveTotals",
    "LocustFiles",
    "read_live_totals",
    "read_locust_totals",
    "read_warmup_mark",
]


@dataclass(frozen=True, kw_only=True)
class LocustFiles:
    """Where one Locust run writes: pass ``json_arg`` to ``--json-file`` (Locust adds
    ``.json``) and ``csv_prefix`` to ``--csv``."""

    directory: Path

    @property
    def json_arg(self) -> str:
        return str(self.directory / "locust")

    @property
    def json_path(self) -> Path:
        return self.directory / "locust.json"

    @property
    def csv_prefix(self) -> str:
        return str(self.directory / "locust")

    @property
    def stats_csv(self) -> Path:
        return self.directory / "locust_stats.csv"

    @property
    def failures_csv(self) -> Path:
        return self.directory / "locust_failures.csv"

    @property
    def warmup_mark(self) -> Path:
        return self.directory / "warmup-mark.json"


def _percentile(response_times: Mapping[int, int], count: int, percent: float) -> float:
    """Locust's own rule (``calculate_response_time_percentile``), on its rounded record."""
    if count <= 0 or not response_times:
        return 0.0
    processed = 0
    for value in sorted(response_times, reverse=True):
        processed += response_times[value]
        if count - processed <= int(count * percent):
            return float(value)
    return float(min(response_times))


def _latency(response_times: Mapping[int, int], entry: Mapping[str, Any]) -> LatencySummary:
    timed = sum(response_times.values())
    requests = int(entry["num_requests"]) - int(entry.get("num_none_requests") or 0)
    if requests <= 0 or timed <= 0:
        return _NO_LATENCY
    minimum = entry.get("min_response_time")
    maximum = entry.get("max_response_time")
    return LatencySummary(
        min=float(minimum) if minimum is not None else None,
        mean=float(entry["total_response_time"]) / requests,
        p50=_percentile(response_times, timed, 0.5),
        p95=_percentile(response_times, timed, 0.95),
        p99=_percentile(response_times, timed, 0.99),
        max=float(maximum) if maximum is not None else None,
    )


# No request timed: nothing measured, not a latency of 0.
_NO_LATENCY = LatencySummary(min=None, mean=None, p50=None, p95=None, p99=None, max=None)


def _rate(requests: int, entry: Mapping[str, Any], duration: float) -> float:
    start, last = entry.get("start_time"), entry.get("last_request_timestamp")
    span = (last - start) if start and last and last > start else duration
    return requests / span if span > 0 else 0.0


def read_warmup_mark(path: Path) -> dict[str, Any] | None:
    """What Locust had counted when the warm-up ended (``_warmup_mark``), or None."""
    try:
        mark = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(mark, dict) or not isinstance(mark.get("entries"), list):
        return None
    return mark


def _after(entries: list[dict[str, Any]], mark: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Locust's final entries minus what it had counted at ``mark``: exact counts and
    response-time records; the minimum and maximum only of an endpoint first requested
    after the mark (Locust keeps no record of when its extremes happened)."""
    earlier = {(e.get("method"), e.get("name")): e for e in mark["entries"]}
    after: list[dict[str, Any]] = []
    for entry in entries:
        before = earlier.get((entry.get("method"), entry.get("name")))
        changed: dict[str, Any] = {"start_time": float(mark.get("time") or 0) or None}
        if before is not None:
            for field in ("num_requests", "num_failures", "num_none_requests"):
                changed[field] = int(entry.get(field) or 0) - int(before.get(field) or 0)
            changed["total_response_time"] = float(entry.get("total_response_time") or 0) - float(
                before.get("total_response_time") or 0
            )
            previous = {int(k): int(v) for k, v in (before.get("response_times") or {}).items()}
            times = {
                int(k): int(v) - previous.get(int(k), 0)
                for k, v in (entry.get("response_times") or {}).items()
            }
            changed["response_times"] = {k: v for k, v in times.items() if v > 0}
            changed["min_response_time"] = changed["max_response_time"] = None
        if (changed.get("num_requests", entry.get("num_requests")) or 0) > 0 or (
            changed.get("num_failures", entry.get("num_failures")) or 0
        ) > 0:
            after.append({**entry, **changed})
    return after


def read_locust_totals(
    files: LocustFiles, duration_seconds: float, *, since: Mapping[str, Any] | None = None
) -> LocustTotals | None:
    """Totals and per-endpoint statistics, or None when Locust wrote nothing usable.

    ``since``: a warm-up's mark; the figures cover only what came after it.
    """
    errors = _read_failures(files.failures_csv)
    try:
        entries: list[dict[str, Any]] = json.loads(files.json_path.read_text())
    except (OSError, ValueError):
        return None if since is not None else _from_stats_csv(files.stats_csv, errors)
    if since is not None:
        entries = _after(entries, since)
    endpoints: list[EndpointStats] = []
    merged: dict[int, int] = {}
    total = {"num_requests": 0, "num_failures": 0, "num_none_requests": 0}
    total_time = 0.0
    minimum: float | None = math.inf
    maximum: float | None = 0.0
    start, last = math.inf, 0.0
    for entry in entries:
        response_times = {int(k): int(v) for k, v in entry.get("response_times", {}).items()}
        requests = int(entry["num_requests"])
        endpoints.append(
            EndpointStats(
                method=str(entry.get("method") or ""),
                name=str(entry["name"]),
                requests=requests,
                failures=int(entry["num_failures"]),
                requests_per_second=_rate(requests, entry, duration_seconds),
                latency_ms=_latency(response_times, entry),
                response_times={str(k): v for k, v in sorted(response_times.items())},
            )
        )
        for rounded, count in response_times.items():
            merged[rounded] = merged.get(rounded, 0) + count
        for field in total:
            total[field] += int(entry.get(field) or 0)
        total_time += float(entry.get("total_response_time") or 0)
        if int(entry.get("num_requests") or 0) > 0:
            # One endpoint's unknown extreme leaves the whole run's unknown.
            low, high = entry.get("min_response_time"), entry.get("max_response_time")
            minimum = None if minimum is None or low is None else min(minimum, float(low))
            maximum = None if maximum is None or high is None else max(maximum, float(high))
        start = min(start, float(entry.get("start_time") or math.inf))
        last = max(last, float(entry.get("last_request_timestamp") or 0))
    aggregate = {
        **total,
        "total_response_time": total_time,
        "min_response_time": None if minimum is None or math.isinf(minimum) else minimum,
        "max_response_time": maximum,
        "start_time": None if math.isinf(start) else start,
        "last_request_timestamp": last or None,
    }
    return LocustTotals(
        requests=total["num_requests"],
        failures=total["num_failures"],
        requests_per_second=_rate(total["num_requests"], aggregate, duration_seconds),
        latency_ms=_latency(merged, aggregate),
        endpoints=endpoints,
        response_times={str(k): v for k, v in sorted(merged.items())},
        errors=errors,
    )


def _read_failures(path: Path) -> dict[str, int]:
    errors: dict[str, int] = {}
    for row in _csv_rows(path):
        key = f"{row.get('Method', '')} {row.get('Name', '')}: {row.get('Error', '')}".strip()
        errors[key] = errors.get(key, 0) + int(row.get("Occurrences") or 0)
    return errors


def _csv_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error):
        return []


def _csv_latency(row: Mapping[str, str]) -> LatencySummary:
    if not int(row.get("Request Count") or 0):
        return _NO_LATENCY

    def number(column: str) -> float | None:
        try:
            return float(row.get(column) or 0)
        except ValueError:  # Locust writes "N/A" before the first response
            return None

    return LatencySummary(
        min=number("Min Response Time"),
        mean=number("Average Response Time"),
        p50=number("50%"),
        p95=number("95%"),
        p99=number("99%"),
        max=number("Max Response Time"),
    )


def _from_stats_csv(path: Path, errors: dict[str, int]) -> LocustTotals | None:
    rows = _csv_rows(path)
    aggregated = next((row for row in rows if row.get("Name") == "Aggregated"), None)
    if aggregated is None:
        return None
    endpoints = [
        EndpointStats(
            method=row.get("Type", ""),
            name=row.get("Name", ""),
            requests=int(row.get("Request Count") or 0),
            failures=int(row.get("Failure Count") or 0),
            requests_per_second=float(row.get("Requests/s") or 0),
            latency_ms=_csv_latency(row),
        )
        for row in rows
        if row is not aggregated
    ]
    return LocustTotals(
        requests=int(aggregated.get("Request Count") or 0),
        failures=int(aggregated.get("Failure Count") or 0),
        requests_per_second=float(aggregated.get("Requests/s") or 0),
        latency_ms=_csv_latency(aggregated),
        endpoints=endpoints,
        errors=errors,
    )


@dataclass(frozen=True, kw_only=True)
class LiveTotals:
    requests: int = 0
    failures: int = 0
    requests_per_second: float = 0.0
    p50_ms: float | None = None  # None: no response yet
    p95_ms: float | None = None


def read_live_totals(files: LocustFiles) -> LiveTotals:
    """Locust's running totals from the stats CSV it rewrites every second."""
    rows = _csv_rows(files.stats_csv)
    aggregated = next((row for row in rows if row.get("Name") == "Aggregated"), None)
    if aggregated is None:
        return LiveTotals()
    latency = _csv_latency(aggregated)
    try:
        rate = float(aggregated.get("Requests/s") or 0)
    except ValueError:
        rate = 0.0
    return LiveTotals(
        requests=int(aggregated.get("Request Count") or 0),
        failures=int(aggregated.get("Failure Count") or 0),
        requests_per_second=rate,
        p50_ms=latency.p50,
        p95_ms=latency.p95,
    )
