"""``poolscope compare``: runs side by side, against the first (the baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from poolscope.compare._build import build_comparison
from poolscope.compare._failif import Condition, FailIfError, evaluate, parse_condition
from poolscope.compare._format import TEXT_LIMIT, format_seconds
from poolscope.compare._html import STYLE, pool_charts
from poolscope.compare._inputs import CompareInputError, LoadedRun, load_runs
from poolscope.compare._markdown import render_markdown
from poolscope.compare._model import Comparison
from poolscope.compare._scenario import play_scenario
from poolscope.compare._svg import Series, line_chart
from poolscope.compare._text import write_table

__all__ = [
    "FORMATS",
    "STYLE",
    "TEXT_LIMIT",
    "CompareInputError",
    "Comparison",
    "Condition",
    "FailIfError",
    "Format",
    "LoadedRun",
    "Series",
    "build_comparison",
    "evaluate",
    "format_for_path",
    "format_seconds",
    "line_chart",
    "load_runs",
    "parse_condition",
    "play_scenario",
    "pool_charts",
    "render",
    "write_table",
]

Format = Literal["table", "markdown", "json", "html"]
FORMATS: tuple[Format, ...] = ("table", "markdown", "json", "html")
_SUFFIXES: dict[str, Format] = {".md": "markdown", ".json": "json", ".html": "html", ".htm": "html"}


def format_for_path(path: Path | None) -> Format:
    """The format ``--out`` implies by its suffix; a table otherwise."""
    return _SUFFIXES.get(path.suffix.lower(), "table") if path else "table"


def render(comparison: Comparison, runs: Sequence[LoadedRun], output: Format) -> str:
    """The report as text, for any format (the table without colours)."""
    if output == "markdown":
        return render_markdown(comparison)
    if output == "json":
        return comparison.to_json() + "\n"
    if output == "html":
        from poolscope.compare._html import render_html

        return render_html(comparison, runs)
    import io

    from poolscope.compare._text import table_as_text

    buffer = io.StringIO()
    table_as_text(comparison, buffer)
    return buffer.getvalue()
