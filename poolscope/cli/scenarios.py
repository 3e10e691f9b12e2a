"""``poolscope scenarios``: one line per scenario: name, what it shows, its variants and
the ``poolscope serve`` flags it needs."""

from __future__ import annotations

import typer

from poolscope.loadtest import list_scenarios, serve_flags


def scenarios() -> None:
    """List the scenarios `poolscope run` plays."""
    for scenario in list_scenarios():
        variants = ", ".join(variant.name for variant in scenario.variants)
        serve = " ".join(serve_flags(scenario.settings))
        typer.echo(f"{scenario.name:<20} {scenario.summary} [variants: {variants}; serve {serve}]")
