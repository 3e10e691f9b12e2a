"""A GitHub-flavoured Markdown table, for a pull request or an incident review."""

from __future__ import annotations

import re

from poolscope.compare._format import (
    NOISE_MARK,
    TEXT_LIMIT,
    format_change,
    format_pool,
    format_value,
)
from poolscope.compare._model import Comparison
from poolscope.readings import one_line

__all__ = ["render_markdown"]

# Characters Markdown reads as markup anywhere: a backslash before each keeps it literal
# ("&" would start an entity, "~~" strike through, "|" end a cell).
_MARKUP = re.compile(r"([\\`*_\[\]<>#|&~])")
_LEADING_MARKER = re.compile(r"^(\d+(?=[.)])|)([-+=.)])")


def _text(text: str) -> str:
    """Plain text as Markdown: control characters as their escapes (a newline or a
    carriage return would end the row or the list item, an ESC act on a terminal the
    report is printed to), bounded as the HTML report's, then markup characters escaped
    (a pipe would also end a cell)."""
    return _MARKUP.sub(r"\\\1", one_line(text, TEXT_LIMIT))


def _item(text: str) -> str:
    """A list item's text: at its start, "-", "+" or "1." would open a list of its own."""
    return "- " + _LEADING_MARKER.sub(r"\1\\\2", _text(text))


def _row(cells: list[str]) -> str:
    """Cells already in Markdown."""
    return "| " + " | ".join(cell or " " for cell in cells) + " |"


def render_markdown(comparison: Comparison) -> str:
    baseline = _text(comparison.baseline.label)
    header = ["figure", f"{baseline} (baseline, {format_pool(comparison.baseline)})"]
    for column in comparison.runs[1:]:
        header += [f"{_text(column.label)} ({format_pool(column)})", f"vs {baseline}"]
    lines = [_row(header), "|" + "|".join(["---", *["---:"] * (len(header) - 1)]) + "|"]
    for row in comparison.rows:
        cells = [_text(row.label), _text(format_value(row.cells[0].value, row.unit))]
        for cell, change in zip(row.cells[1:], row.changes[1:], strict=True):
            cells.append(_text(format_value(cell.value, row.unit)))
            text = _text(format_change(change, row.unit))
            if change is not None and change.assessment == "worse":
                text = f"**{text}**"
            cells.append(text)
        lines.append(_row(cells))
    lines.append("")
    lines.append(
        f"`{NOISE_MARK}` within noise (95 % intervals overlap); **bold**: worse; sampled: the "
        "most the run's reads of /metrics showed (a shorter peak can fall between two reads)."
    )
    lines.append("")
    lines.extend(_item(line) for line in comparison.verdicts)
    lines.extend(f"- warning: {_text(warning)}" for warning in comparison.warnings)
    lines.extend(_item(note) for note in comparison.notes)
    return "\n".join(lines) + "\n"
