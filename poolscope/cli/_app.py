"""The ``poolscope`` command: parses arguments and calls plain functions."""

from __future__ import annotations

import logging
import sys

import typer

from poolscope._errors import PoolscopeError, UsageError
from poolscope.cli import compare, db, serve
from poolscope.cli.run import run
from poolscope.cli.scenarios import scenarios
from poolscope.cli.sweep import sweep
from poolscope.readings import one_line

__all__ = ["app", "main"]

app = typer.Typer(
    name="poolscope",
    help="Make SQLAlchemy connection pools visible and prove how they behave under load.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.command(name="compare")(compare.compare)
app.command()(serve.serve)
app.command()(run)
app.command()(scenarios)
app.command()(sweep)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except UsageError as error:
        print(f"poolscope: error: {one_line(str(error))}", file=sys.stderr)
        sys.exit(2)
    except PoolscopeError as error:
        print(f"poolscope: error: {one_line(str(error))}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("poolscope: interrupted", file=sys.stderr)
        sys.exit(130)
