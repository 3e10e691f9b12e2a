"""The terminal table (rich): runs as columns, the change against the baseline beside each."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from poolscope.compare._format import NOISE_MARK, format_change, format_pool, format_value
from poolscope.compare._model import Change, Comparison
from poolscope.readings import literal, print_unbroken, visible

__all__ = ["render_table", "write_table"]

STYLES = {"better": "green", "worse": "bold red", "changed": "yellow", "noise": "dim"}


def _change_text(change: Change | None, text: str) -> Text:
    style = STYLES.get(change.assessment, "") if change else ""
    return Text(text, style=style)


def render_table(comparison: Comparison) -> Table:
    baseline = comparison.baseline.label
    table = Table(title=literal(f"poolscope compare (baseline: {baseline})"), title_justify="left")
    table.add_column("figure", no_wrap=True)
    first = comparison.baseline
    # A narrow terminal folds a long run name over lines: cut, two names could read alike.
    table.add_column(
        Text(f"{visible(baseline)} (baseline)\n{format_pool(first)}"),
        justify="right",
        overflow="fold",
    )
    for column in comparison.runs[1:]:
        table.add_column(
            Text(f"{visible(column.label)}\n{format_pool(column)}"),
            justify="right",
            overflow="fold",
        )
        table.add_column("vs baseline", justify="right", overflow="fold")
    rows = comparison.rows
    for index, row in enumerate(rows):
        cells: list[str | Text] = [literal(row.label), format_value(row.cells[0].value, row.unit)]
        for cell, change in zip(row.cells[1:], row.changes[1:], strict=True):
            cells.append(format_value(cell.value, row.unit))
            cells.append(_change_text(change, format_change(change, row.unit)))
        last_of_group = index + 1 == len(rows) or rows[index + 1].group != row.group
        table.add_row(*cells, end_section=last_of_group)
    return table


def write_table(comparison: Comparison, console: Console) -> None:
    console.print(render_table(comparison))
    console.print(
        f"{NOISE_MARK} = within noise: the 95 % intervals overlap or too few observations; "
        "sampled: the most the run's reads of /metrics showed (a shorter peak can fall "
        "between two reads)",
        style="dim",
    )
    # Verdicts name runs and paths: wrapped between words, a path never cut in two.
    for line in comparison.verdicts:
        print_unbroken(console, literal(line, "bold"))
    for note in comparison.notes:
        print_unbroken(console, literal(note, "dim"))
    for warning in comparison.warnings:
        print_unbroken(console, literal(f"warning: {warning}", "yellow"))


def table_as_text(comparison: Comparison, file: IO[str]) -> None:
    """Plain text, no colours: for ``--out``."""
    write_table(comparison, Console(file=file, width=160, no_color=True, force_terminal=False))
