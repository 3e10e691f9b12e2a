"""``poolscope scenarios``: one line per scenario: name, what it shows, its variants."""

from __future__ import annotations

import typer

from poolscope._catalog import list_scenarios


def scenarios() -> None:
    """List the scenarios `poolscope run` plays."""
    for scenario in list_scenarios():
        variants = ", ".join(variant.name for variant in scenario.variants)
        typer.echo(f"{scenario.name:<20} {scenario.summary} [variants: {variants}]")
