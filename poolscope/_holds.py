"""What a checkin records of one hold, and how a drain splits a route's records into use
times, statement time and held-idle times.

A checkin appends the seconds held, a bare float, when no statement ran on the
connection (the cheapest record: the path of a checkout without statements costs what it
did before statements were measured), else the tuple ``(held, in_statements,
statements)``. The drain, off the hot path, tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Hold", "HoldSplit", "split_holds"]

# Seconds held, or (seconds held, seconds in statements, statements).
Hold = float | tuple[float, float, int]


@dataclass(slots=True)
class HoldSplit:
    """A route's holds, split: each hold's seconds, each hold's seconds outside statements
    (held idle), the seconds in statements and the statements, summed."""

    held: list[float]
    idle: list[float]
    statement_seconds: float
    statements: int


def split_holds(holds: list[Hold]) -> HoldSplit:
    held: list[float] = []
    idle: list[float] = []
    statement_seconds = 0.0
    statements = 0
    for hold in holds:
        if isinstance(hold, tuple):
            seconds, busy, count = hold
            held.append(seconds)
            # A statement's clock and the hold's are read apart: never below 0.
            idle.append(max(0.0, seconds - busy))
            statement_seconds += busy
            statements += count
        else:
            held.append(hold)
            idle.append(hold)
    return HoldSplit(held, idle, statement_seconds, statements)
