"""How values and changes read, shared by every renderer so they all say the same thing."""

from __future__ import annotations

from poolscope.compare._model import Change, RunColumn, Unit
from poolscope.readings import NO_DATA, format_share

__all__ = [
    "NOISE_MARK",
    "TEXT_LIMIT",
    "format_change",
    "format_difference",
    "format_pool",
    "format_ratio",
    "format_seconds",
    "format_value",
]

# benchstat's mark for "no significant difference".
NOISE_MARK = "~"
# A run file's strings are shown in a report up to this length: a name of megabytes would
# make a page no browser opens, or a Markdown table no one reads.
TEXT_LIMIT = 1000


def format_value(value: float | None, unit: Unit) -> str:
    if value is None:
        return NO_DATA
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "per_second":
        return f"{value:,.1f}/s"
    if unit == "share":
        return format_share(value)
    return format_seconds(value)


def format_pool(column: RunColumn) -> str:
    """``pool 5 + 10``: the pool size and overflow a run's target had."""
    if column.pool_size is None:
        return "pool unknown"
    if column.max_overflow is None:
        return f"pool {column.pool_size}"
    if column.max_overflow < 0:
        return f"pool {column.pool_size} + unlimited"
    return f"pool {column.pool_size} + {column.max_overflow}"


def format_seconds(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0 ms"
    if magnitude < 0.001:
        return f"{value * 1e6:.3g} µs"
    if magnitude < 1:
        return f"{value * 1000:.3g} ms"
    if magnitude < 100:
        return f"{value:.3g} s"
    return f"{value:,.0f} s"


def format_ratio(ratio: float) -> str:
    if ratio >= 100:
        return f"×{ratio:,.0f}"
    return f"×{ratio:.3g}"


def format_change(change: Change | None, unit: Unit) -> str:
    """``×13.7`` for times and rates, ``+2,390`` for counts; ``~`` marks noise."""
    if change is None or (change.assessment == "unknown" and change.difference is None):
        return ""
    if change.assessment == "same":
        return "="
    text = _magnitude(change, unit)
    if change.assessment == "noise":
        return f"{NOISE_MARK} {text}"
    return text


def _magnitude(change: Change, unit: Unit) -> str:
    if unit == "count" or change.ratio is None:
        if change.difference is None:
            return ""
        return format_difference(change.difference, unit)
    return format_ratio(change.ratio)


def format_difference(difference: float, unit: Unit) -> str:
    sign = "+" if difference > 0 else "-" if difference < 0 else ""
    return sign + format_value(abs(difference), unit)
