"""Query parameters and answers the sync and async routes share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import Row, func, select

from poolscope.service._db import items
from poolscope.service._sleep import HOLD

__all__ = ["COUNT_ITEMS", "HOLD", "Limit", "Seconds", "item_rows"]

MAX_HOLD_SECONDS = 30

Limit = Annotated[int, Query(ge=1, le=500, description="How many items to return.")]
Seconds = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_HOLD_SECONDS,
        allow_inf_nan=False,
        description="How long to keep the pooled connection, 0 to 30 s.",
    ),
]

COUNT_ITEMS = select(func.count()).select_from(items)


def item_rows(rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    return [
        {"id": row.id, "name": row.name, "category": row.category, "price": float(row.price)}
        for row in rows
    ]
