"""A GitHub-flavoured Markdown table, for a pull request or an incident review."""

from __future__ import annotations

from poolscope._compare._format import NOISE_MARK, format_change, format_value
from poolscope._compare._model import Comparison

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    # A pipe would end the cell; a newline the row.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def render_markdown(comparison: Comparison) -> str:
    baseline = comparison.baseline.label
    header = ["figure", f"{baseline} (baseline)"]
    for column in comparison.runs[1:]:
        header += [column.label, f"vs {baseline}"]
    lines = [_row(header), "|" + "|".join(["---", *["---:"] * (len(header) - 1)]) + "|"]
    for row in comparison.rows:
        cells = [row.label, format_value(row.cells[0].value, row.unit)]
        for cell, change in zip(row.cells[1:], row.changes[1:], strict=True):
            cells.append(format_value(cell.value, row.unit))
            text = format_change(change, row.unit)
            if change is not None and change.assessment == "worse":
                text = f"**{text}**"
            cells.append(text)
        lines.append(_row(cells))
    lines.append("")
    lines.append(f"`{NOISE_MARK}` within noise (95 % intervals overlap); **bold**: worse.")
    lines.append("")
    lines.extend(f"- {line}" for line in comparison.verdicts)
    lines.extend(f"- warning: {warning}" for warning in comparison.warnings)
    lines.extend(f"- {note}" for note in comparison.notes)
    return "\n".join(lines) + "\n"
