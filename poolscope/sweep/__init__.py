"""``poolscope sweep``: measure the pool size a service needs, one run per pool size.

Sits above the load-test runner (which plays each step) and ``poolscope compare`` (whose
charts the HTML page reuses); the CLI only parses arguments and calls these functions.
"""

from __future__ import annotations

from poolscope.sweep._figures import load_window, step_from_run
from poolscope.sweep._html import render_html
from poolscope.sweep._model import (
    SCHEMA,
    LittlesLaw,
    Parameter,
    Recommendation,
    Resource,
    Step,
    Sweep,
    SweepConfiguration,
    SweepFileError,
    load_sweep,
    write_sweep,
)
from poolscope.sweep._plan import SweepOptions, connection_warning
from poolscope.sweep._play import SweepResult, run_sweep
from poolscope.sweep._recommend import NEAR_BEST, recommend, saturated_resource
from poolscope.sweep._text import write_report

__all__ = [
    "NEAR_BEST",
    "SCHEMA",
    "LittlesLaw",
    "Parameter",
    "Recommendation",
    "Resource",
    "Step",
    "Sweep",
    "SweepConfiguration",
    "SweepFileError",
    "SweepOptions",
    "SweepResult",
    "connection_warning",
    "load_sweep",
    "load_window",
    "recommend",
    "render_html",
    "run_sweep",
    "saturated_resource",
    "step_from_run",
    "write_report",
    "write_sweep",
]
