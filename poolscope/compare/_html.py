"""One self-contained HTML page: verdict, table and, per run, its pool over time.

Everything is inline (CSS, SVG charts drawn in Python, a data: favicon), so the page makes
no network request and can be attached to an incident review as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from poolscope.compare._format import (
    NOISE_MARK,
    TEXT_LIMIT,
    format_change,
    format_pool,
    format_seconds,
    format_value,
)
from poolscope.compare._inputs import LoadedRun
from poolscope.compare._model import Cell, Comparison, Unit
from poolscope.compare._svg import Series, line_chart
from poolscope.loadtest import PoolSample, Run
from poolscope.readings import one_line

__all__ = ["STYLE", "pool_charts", "render_html"]

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1b1f24; background: #fff; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e3e6ea; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.group-start td { border-top: 2px solid #b8bec6; }
.better { color: #1a7f37; } .worse { color: #cf222e; font-weight: 600; }
.changed { color: #9a6700; } .noise { color: #8c959f; }
.verdict li { margin: .3em 0; } .warning { color: #9a6700; }
.meta { color: #57606a; } .charts { display: flex; flex-wrap: wrap; gap: 1em; }
svg.chart { border: 1px solid #e3e6ea; background: #fff; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #57606a; }
svg.chart text.title { font-size: 13px; fill: #1b1f24; font-weight: 600; }
svg.chart .grid { stroke: #eef0f2; } svg.chart .axis { stroke: #8c959f; }
"""

# Points per chart line: far more than its 640 pixels show; beyond, each group of samples
# is drawn as its largest value, so a peak stays visible.
CHART_POINTS = 2000

CONNECTION_COLOURS = {"used": "#cf222e", "idle": "#1a7f37", "pending": "#8250df"}
WAIT_COLOURS = {"p50": "#0969da", "p95": "#bc4c00", "p99": "#cf222e"}


def _text(text: str) -> str:
    # Control characters as their escapes: the page may be printed to a terminal.
    return escape(one_line(text, TEXT_LIMIT))


def _thinned(
    points: Sequence[tuple[float, float | None]],
) -> Sequence[tuple[float, float | None]]:
    if len(points) <= CHART_POINTS:
        return points
    size = math.ceil(len(points) / CHART_POINTS)
    thinned: list[tuple[float, float | None]] = []
    for start in range(0, len(points), size):
        group = points[start : start + size]
        values = [value for _, value in group if value is not None]
        thinned.append((group[0][0], max(values) if values else None))
    return thinned


def _value_cell(cell: Cell, unit: Unit) -> str:
    """The value, with its 95 % interval as a tooltip where it has one."""
    title = ""
    if cell.low is not None and cell.high is not None:
        interval = f"{format_value(cell.low, unit)} to {format_value(cell.high, unit)}"
        title = f' title="95 % interval {_text(interval)}, {cell.observations or 0:,} observations"'
    return f"<td{title}>{_text(format_value(cell.value, unit))}</td>"


def _table(comparison: Comparison) -> str:
    baseline = _text(comparison.baseline.label)
    pool = _text(format_pool(comparison.baseline))
    head = [f'<th>figure</th><th>{baseline} (baseline)<br><span class="meta">{pool}</span></th>']
    for column in comparison.runs[1:]:
        pool = _text(format_pool(column))
        head.append(
            f'<th>{_text(column.label)}<br><span class="meta">{pool}</span></th>'
            f"<th>vs {baseline}</th>"
        )
    body = []
    previous_group = None
    for row in comparison.rows:
        css = ' class="group-start"' if previous_group not in (None, row.group) else ""
        previous_group = row.group
        cells = [f"<td>{_text(row.label)}</td>"]
        cells.append(_value_cell(row.cells[0], row.unit))
        for cell, change in zip(row.cells[1:], row.changes[1:], strict=True):
            cells.append(_value_cell(cell, row.unit))
            kind = change.assessment if change else ""
            cells.append(f'<td class="{kind}">{_text(format_change(change, row.unit))}</td>')
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    return (
        f'<table class="comparison"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="meta">{NOISE_MARK} within noise: the 95 % intervals overlap or there are '
        "too few observations to tell. Sampled: the most the run's reads of /metrics "
        "showed (a shorter peak can fall between two reads).</p>"
    )


def pool_charts(samples: Sequence[PoolSample]) -> str:
    """The pool over time: used / idle / pending connections, and wait percentiles per
    interval, as two inline SVG charts (also the Locust plugin's chart page)."""
    connections = [
        Series(
            name=state,
            colour=colour,
            step=True,
            points=_thinned([(s.t, float(getattr(s, state))) for s in samples]),
        )
        for state, colour in CONNECTION_COLOURS.items()
    ]
    waits = [
        Series(
            name=f"wait {name}",
            colour=colour,
            points=_thinned([(s.t, getattr(s, f"wait_{name}")) for s in samples]),
        )
        for name, colour in WAIT_COLOURS.items()
    ]
    return (
        '<div class="charts">'
        + line_chart(
            title="connections (used / idle / pending)",
            series=connections,
            format_y=lambda v: f"{v:g}",
            css_class="connections",
        )
        + line_chart(
            title="pool wait percentiles per interval",
            series=waits,
            format_y=format_seconds,
            css_class="waits",
        )
        + "</div>"
    )


def _charts(label: str, run: Run) -> str:
    configuration = run.configuration
    return (
        f"<section><h2>{_text(label)}: {_text(run.scenario)} / {_text(run.variant)}</h2>"
        f'<p class="meta">pool_size {configuration.pool_size}, max_overflow '
        f"{configuration.max_overflow}, {configuration.users} users, driver "
        f"{_text(configuration.driver)}, {len(run.samples)} samples</p>"
        f"{pool_charts(run.samples)}</section>"
    )


def render_html(comparison: Comparison, runs: Sequence[LoadedRun]) -> str:
    title = "poolscope compare: " + " vs ".join(column.label for column in comparison.runs)
    verdicts = "".join(f"<li>{_text(line)}</li>" for line in comparison.verdicts)
    warnings = "".join(
        f'<p class="warning">warning: {_text(line)}</p>' for line in comparison.warnings
    )
    notes = "".join(f'<p class="meta">{_text(line)}</p>' for line in comparison.notes)
    charts = "".join(
        _charts(column.label, item.run) for column, item in zip(comparison.runs, runs, strict=True)
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'
        f"<title>{_text(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{_text(title)}</h1><ul class="verdict">{verdicts}</ul>{warnings}'
        f"{_table(comparison)}{notes}{charts}</body></html>\n"
    )
