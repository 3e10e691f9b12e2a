"""What a comparison is: runs as columns, figures as rows, each against the baseline.

Times are seconds throughout (Locust's milliseconds are converted when rows are built), so
renderers and ``--fail-if`` never guess a unit. The JSON output is this model, dumped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from poolscope.readings import json_visible

__all__ = [
    "COMPARE_SCHEMA",
    "Assessment",
    "Cell",
    "Change",
    "Comparison",
    "Figure",
    "Row",
    "RunColumn",
    "Unit",
]

COMPARE_SCHEMA = "poolscope.compare/1"

Unit = Literal["seconds", "count", "per_second", "share"]
# estimate: a percentile or rate with an interval (can be noise); exact: a count or peak.
Kind = Literal["estimate", "exact"]
Better = Literal["lower", "higher"]
# noise: the 95 % intervals overlap or there are too few observations to tell.
# unknown: a value is missing, or no per-request data to put an interval on.
Assessment = Literal["same", "noise", "better", "worse", "changed", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunColumn(_Model):
    label: str
    path: str
    scenario: str
    variant: str
    complete: bool
    started_at: datetime
    duration_seconds: float | None
    # The pool as the run file recorded it: read from the target by poolscope run.
    pool_size: int | None = None
    max_overflow: int | None = None  # -1: no limit


class Cell(_Model):
    value: float | None
    low: float | None = None
    high: float | None = None
    observations: int | None = None


class Change(_Model):
    """One run's figure against the baseline's."""

    ratio: float | None
    difference: float | None
    assessment: Assessment


class Figure(_Model):
    """What a row measures."""

    key: str
    label: str
    group: str
    unit: Unit
    kind: Kind
    better: Better | None


class Row(Figure):
    cells: list[Cell]
    # One per run; None for the baseline (first) column.
    changes: list[Change | None]


class Comparison(_Model):
    schema_: str = Field(default=COMPARE_SCHEMA, alias="schema")
    runs: list[RunColumn]
    rows: list[Row]
    verdicts: list[str]
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def baseline(self) -> RunColumn:
        return self.runs[0]

    def row(self, key: str) -> Row | None:
        return next((row for row in self.rows if row.key == key), None)

    def to_json(self) -> str:
        # Printed to a terminal as often as written to a file.
        return json_visible(self.model_dump_json(by_alias=True, indent=2))
