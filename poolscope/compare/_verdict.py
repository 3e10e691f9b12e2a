"""The plain-language lines that say what changed, most important first."""

from __future__ import annotations

import math
from collections.abc import Sequence

from poolscope.compare._format import format_ratio, format_value
from poolscope.compare._model import Change, Row, RunColumn
from poolscope.compare._notes import setup_differences
from poolscope.readings import Run, held_idle_cause, starvation_cause

__all__ = ["verdicts"]

# At most this many findings per run: a verdict is read, not scanned.
MAX_FINDINGS = 4
# Smaller real changes stay in the table, out of the verdict.
MATERIAL_RATIO = 0.10

# Groups of rows, most important first; from each group only the largest real change
# is told.
PRIORITIES: tuple[tuple[str, ...], ...] = (
    ("failures",),
    ("timeouts",),
    ("p50", "p95", "p99"),
    ("rps",),
    ("busy_share",),
    ("connects",),
    ("pools_created",),
    ("wait_p50", "wait_p95", "wait_p99"),
    ("leaks",),
    ("max_pending",),
    ("max_overflow",),
    ("gc_reclaimed",),
    ("use_p50", "use_p95", "use_p99"),
)


def _material(change: Change) -> bool:
    if change.assessment not in ("better", "worse", "changed"):
        return False
    if change.ratio is None or change.ratio <= 0:
        return True
    return abs(change.ratio - 1.0) >= MATERIAL_RATIO


def _size(change: Change) -> float:
    if change.ratio is None or change.ratio <= 0:
        return math.inf
    return abs(math.log(change.ratio))


def _phrase(row: Row, base_value: float | None, value: float | None, change: Change) -> str:
    before = format_value(base_value, row.unit)
    after = format_value(value, row.unit)
    if row.unit == "count":
        return f"{row.label} {after} instead of {before}"
    ratio = f" ({format_ratio(change.ratio)})" if change.ratio is not None else ""
    return f"{row.label} went from {before} to {after}{ratio}"


def _findings(rows: Sequence[Row], column: int) -> list[str]:
    by_key = {row.key: row for row in rows}
    findings = []
    for group in PRIORITIES:
        candidates = []
        for key in group:
            row = by_key.get(key)
            change = None if row is None else row.changes[column]
            if row is not None and change is not None and _material(change):
                candidates.append((row, change))
        if candidates:
            row, change = max(candidates, key=lambda item: _size(item[1]))
            findings.append(_phrase(row, row.cells[0].value, row.cells[column].value, change))
    return findings[:MAX_FINDINGS]


def _deadlocks(columns: Sequence[RunColumn], runs: Sequence[Run]) -> list[str]:
    """Which runs starved their thread pool (the FastAPI Depends deadlock), first: no
    ratio says it as plainly."""
    causes = [starvation_cause(run.pool) for run in runs]
    lines = [
        f"{column.label} deadlocked: {cause}."
        for column, cause in zip(columns, causes, strict=True)
        if cause
    ]
    spared = [
        column.label
        for column, run, cause in zip(columns, runs, causes, strict=True)
        if not cause and run.pool is not None and run.pool.thread_limit is not None
    ]
    if lines and spared:
        lines.append(f"{', '.join(spared)}: no deadlock, the thread pool never starved.")
    return lines


def _held_idle(columns: Sequence[RunColumn], runs: Sequence[Run]) -> list[str]:
    """Which runs held connections idle, and the route doing it: no ratio says the fix."""
    return [
        f"{column.label}: {cause}."
        for column, run in zip(columns, runs, strict=True)
        if (cause := held_idle_cause(run.pool))
    ]


def verdicts(
    columns: Sequence[RunColumn], rows: Sequence[Row], runs: Sequence[Run] = ()
) -> list[str]:
    """One line per run against the baseline; deadlocked runs named first, and a run whose
    only different setting is the pool size said to be so."""
    lines = [*_deadlocks(columns, runs), *_held_idle(columns, runs)] if runs else []
    baseline = columns[0].label
    for column in range(1, len(columns)):
        findings = _findings(rows, column)
        label = columns[column].label
        head = f"{label} vs {baseline}"
        if runs and setup_differences(runs[0], runs[column]) == ["pool_size"]:
            head += (
                f" (only the pool size changed: {columns[0].pool_size} to "
                f"{columns[column].pool_size})"
            )
        if findings:
            lines.append(f"{head}: " + "; ".join(findings) + ".")
        else:
            lines.append(f"{head}: no change beyond noise in latency, throughput or the pool.")
    return lines
