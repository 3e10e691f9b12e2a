"""Line charts as inline SVG, drawn in Python: the HTML report needs no script and no network."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "line_chart"]

WIDTH, HEIGHT = 640, 250
# The plot area's margins; the title and the legend sit in the top one.
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 48, 32


@dataclass(frozen=True, kw_only=True)
class Series:
    name: str
    colour: str
    points: Sequence[tuple[float, float | None]]
    # Gauges hold their value until the next sample; percentiles are joined directly.
    step: bool = False


def _nice_step(span: float, ticks: int = 4) -> float:
    raw = span / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _finite_points(series: Series) -> list[tuple[float, float | None]]:
    return [
        (t, None if v is None or not math.isfinite(v) else v)
        for t, v in series.points
        if math.isfinite(t)
    ]


def _seconds(t: float) -> str:
    return f"{t:g} s"


def line_chart(
    *,
    title: str,
    series: Sequence[Series],
    format_y: Callable[[float], str],
    css_class: str,
    format_x: Callable[[float], str] = _seconds,
    x_ticks: Sequence[float] | None = None,
) -> str:
    """Series over time by default; ``format_x`` and ``x_ticks`` label any other x axis."""
    cleaned = [(s, _finite_points(s)) for s in series]
    times = [t for _, points in cleaned for t, _ in points]
    values = [v for _, points in cleaned for _, v in points if v is not None]
    parts = [
        f'<svg class="chart {css_class}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="16" class="title">{escape(title)}</text>',
    ]
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if not values:
        parts.append(
            f'<text x="{LEFT + plot_width / 2}" y="{TOP + plot_height / 2}" '
            'text-anchor="middle" class="empty">no samples</text></svg>'
        )
        return "".join(parts)
    t_low, t_high = min(times), max(times)
    t_span = (t_high - t_low) or 1.0
    y_high = max(values)
    y_step = _nice_step(y_high if y_high > 0 else 1.0)
    y_top = y_step * math.ceil((y_high if y_high > 0 else 1.0) / y_step)

    def x(t: float) -> float:
        return LEFT + (t - t_low) / t_span * plot_width

    def y(v: float) -> float:
        return TOP + plot_height - max(0.0, v) / y_top * plot_height

    tick = 0.0
    while tick <= y_top * 1.0001:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{escape(format_y(tick))}</text>"
        )
        tick += y_step
    for tick in _x_ticks(t_low, t_high, t_span) if x_ticks is None else x_ticks:
        parts.append(
            f'<text x="{x(tick):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(format_x(tick))}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_height}" class="axis"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_height}" '
        f'y2="{TOP + plot_height}" class="axis"/>'
    )
    legend_x = float(LEFT)
    for s, points in cleaned:
        for run in _runs(points):
            parts.append(
                f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" '
                f'points="{_path(run, s.step, x, y)}"/>'
            )
            if len(run) == 1:
                t, v = run[0]
                parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{s.colour}"/>')
        parts.append(
            f'<rect x="{legend_x}" y="26" width="12" height="10" fill="{s.colour}"/>'
            f'<text x="{legend_x + 16}" y="35">{escape(s.name)}</text>'
        )
        legend_x += 28 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)


def _x_ticks(low: float, high: float, span: float) -> list[float]:
    step = _nice_step(span)
    ticks: list[float] = []
    tick = math.ceil(low / step) * step
    while tick <= high + 1e-9:
        ticks.append(tick)
        tick += step
    return ticks


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Unbroken stretches: a missing value (no checkout in that interval) breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for t, v in points:
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((t, v))
    return [run for run in runs if run]


def _path(
    run: Sequence[tuple[float, float]],
    step: bool,
    x: Callable[[float], float],
    y: Callable[[float], float],
) -> str:
    coordinates = []
    previous: float | None = None
    for t, v in run:
        if step and previous is not None:
            coordinates.append(f"{x(t):.1f},{y(previous):.1f}")
        coordinates.append(f"{x(t):.1f},{y(v):.1f}")
        previous = v
    return " ".join(coordinates)
