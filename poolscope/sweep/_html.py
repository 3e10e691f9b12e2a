"""The sweep as one self-contained HTML page: the recommendation, the steps' table and
charts of throughput, latency and pool wait against the swept value (log scale).

Drawn with ``poolscope compare``'s inline SVG charts and style: no script, no network.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

from poolscope.compare import STYLE, TEXT_LIMIT, Series, format_seconds, line_chart
from poolscope.readings import NO_DATA, one_line, route_lines
from poolscope.sweep._model import Step, Sweep


def _text(text: str) -> str:
    """A string from outside (a scenario, a route, a target's reason) as the compare
    report shows it: control characters as escapes, bounded, escaped for HTML."""
    return escape(one_line(text, TEXT_LIMIT))


__all__ = ["render_html"]


def _cell(value: float | None, digits: int = 1, scale: float = 1.0) -> str:
    return NO_DATA if value is None else f"{value * scale:.{digits}f}"


def _table(sweep: Sweep) -> str:
    by_pool = sweep.configuration.parameter == "pool_size"
    head = [
        "pool size" if by_pool else "users",
        "users" if by_pool else "pool size",
        "req/s",
        "latency p50 ms",
        "latency p95 ms",
        "pool wait p95 ms (≈)",
        "held ms (mean)",
        "busy % (in statements)",
        "L = λ·W",
        "used mean",
        "used max",
        "max pending",
        "failed / requests",
    ]
    rows = []
    for step in sweep.steps:
        first, second = (step.pool_size, step.users) if by_pool else (step.users, step.pool_size)
        cells = [
            f"{first}" + ("" if step.complete else " (incomplete)"),
            str(second),
            _cell(step.throughput),
            _cell(step.latency_p50_ms, 0),
            _cell(step.latency_p95_ms, 0),
            _cell(step.wait_p95, 0, 1000),
            _cell(step.mean_use, 1, 1000),
            _cell(step.busy_share, 0, 100),
            _cell(step.littles_busy, 2),
            _cell(step.mean_used, 2),
            f"{step.max_used} of {step.pool_limit}",
            str(step.max_pending),
            f"{step.failures} / {step.requests}",
        ]
        rows.append("<tr>" + "".join(f"<td>{_text(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{_text(h)}</th>" for h in head)
    table = f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return table + _route_list(sweep)


def _route_list(sweep: Sweep) -> str:
    """Per step, each route's mean hold and busy share."""
    items = []
    for step in sweep.steps:
        lines = route_lines(step.routes)
        if lines:
            shown = "; ".join(map(_text, lines))
            items.append(f"<li>pool {step.pool_size}, {step.users} users: {shown}</li>")
    return f"<h2>Hold and busy share per route</h2><ul>{''.join(items)}</ul>" if items else ""


def _x(step: Step, by_pool: bool) -> float:
    return math.log2(step.pool_size if by_pool else step.users)


def _charts(sweep: Sweep) -> str:
    by_pool = sweep.configuration.parameter == "pool_size"
    steps = [s for s in sweep.steps if (s.pool_size if by_pool else s.users) > 0]
    ticks = sorted({_x(s, by_pool) for s in steps})
    axis = "pool size" if by_pool else "users"

    def label(x: float) -> str:
        return f"{round(2**x):d}"

    def chart(title: str, series: list[Series], format_y: Callable[[float], str], css: str) -> str:
        return line_chart(
            title=f"{title} against {axis}",
            series=series,
            format_y=format_y,
            css_class=css,
            format_x=label,
            x_ticks=ticks,
        )

    throughput = [
        Series(
            name="requests/s",
            colour="#0969da",
            points=[(_x(s, by_pool), s.throughput) for s in steps],
        )
    ]
    latency = [
        Series(
            name=f"latency {name}",
            colour=colour,
            points=[(_x(s, by_pool), None if v is None else v / 1000) for s, v in values],
        )
        for name, colour, values in (
            ("p50", "#0969da", [(s, s.latency_p50_ms) for s in steps]),
            ("p95", "#bc4c00", [(s, s.latency_p95_ms) for s in steps]),
        )
    ]
    wait = [
        Series(
            name="pool wait p95 (≈)",
            colour="#cf222e",
            points=[(_x(s, by_pool), s.wait_p95) for s in steps],
        ),
        Series(
            name="target",
            colour="#8c959f",
            points=[(_x(s, by_pool), sweep.configuration.target_wait_p95) for s in steps],
        ),
    ]
    return (
        '<div class="charts">'
        + chart("throughput", throughput, lambda v: f"{v:g}/s", "throughput")
        + chart("latency p50 / p95", latency, format_seconds, "latency")
        + chart("pool wait p95", wait, format_seconds, "wait")
        + "</div>"
    )


def render_html(sweep: Sweep) -> str:
    configuration = sweep.configuration
    name = sweep.scenario or sweep.locustfile or "service"
    title = f"poolscope sweep: {name}" + (" (partial)" if sweep.partial else "")
    fixed = (
        f"{configuration.users} users"
        if configuration.parameter == "pool_size"
        else f"pool size {configuration.pool_size}"
    )
    meta = (
        f"{len(sweep.steps)} step(s) of {configuration.duration_seconds:g} s, {fixed}, "
        f"max_overflow {configuration.max_overflow}, driver {configuration.driver}, "
        f"{configuration.service_workers} service worker(s); server max_connections "
        f"{sweep.max_connections if sweep.max_connections is not None else 'not read'}; "
        f"{sweep.wall_seconds:.0f} s in all"
    )
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<link rel="icon" href="data:,">',
        f"<title>{_text(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
    ]
    if sweep.recommendation is not None:
        parts.append(f'<p class="verdict">{_text(sweep.recommendation.text)}</p>')
    if sweep.partial:
        parts.append(f'<p class="warning">partial: {_text(sweep.partial_reason or "")}</p>')
    parts += [f'<p class="warning">warning: {_text(w)}</p>' for w in sweep.warnings]
    parts += [
        f'<p class="meta">{_text(meta)}</p>',
        _table(sweep),
        '<p class="meta">pool wait p95 ≈: estimated from the wait-time histogram\'s buckets; '
        "held: exact mean (sum / count); L = λ·W: Little's law from the checkout rate and "
        "the mean hold; used mean: the sampled gauge while the load ran.</p>",
        _charts(sweep),
        "</body></html>\n",
    ]
    return "".join(parts)
