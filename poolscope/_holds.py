"""What a checkin records of one hold, and how a drain splits a route's records into use
times, statement time and held-idle times.

A checkin appends the seconds held, a bare float, when no statement ran on the
connection (the cheapest record: the path of a checkout without statements costs what it
did before statements were measured), else the tuple ``(held, in_statements,
statements)``. The drain, off the hot path, tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import filterfalse, repeat
from operator import itemgetter, sub
from typing import Any

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
    # In C throughout (filter, map, itemgetter): a drain folds a thousand holds at a time,
    # and a Python loop here would cost more per checkout than the checkout's own path.
    with_statements: list[Any] = list(filter(_is_tuple, holds))
    without: list[Any] = list(filterfalse(_is_tuple, holds)) if with_statements else holds
    held = list(map(_held, with_statements))
    busy = list(map(_busy, with_statements))
    # A statement's clock and the hold's are read apart: never below 0.
    idle = list(map(max, repeat(0.0), map(sub, held, busy)))
    return HoldSplit(
        without + held,
        without + idle,
        sum(busy, 0.0),
        sum(map(_statements, with_statements)),
    )


_is_tuple: Any = partial(type.__instancecheck__, tuple)
_held = itemgetter(0)
_busy = itemgetter(1)
_statements = itemgetter(2)
