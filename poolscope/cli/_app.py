"""The ``poolscope`` command: parses arguments and calls plain functions."""

from __future__ import annotations

import logging
import sys
from typing import Any, cast

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


# The exceptions of the Click typer runs on: its own copy from typer 0.2x, click before.
_click = sys.modules[typer.BadParameter.__module__]
# `poolscope` alone: Click raises its help as an error (Click 8.2 on; earlier, it exits 0).
_HELP_FOR_NO_ARGUMENTS: tuple[type[Exception], ...] = tuple(
    error for error in (getattr(_click, "NoArgsIsHelpError", None),) if error
)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        # Not standalone: Click's own refusals (an unknown option, a value outside its
        # type's range) come here and are said in one line, like poolscope's.
        code = app(prog_name="poolscope", standalone_mode=False)
    except _HELP_FOR_NO_ARGUMENTS as error:
        if str(error):  # Click's own; typer prints its help itself and raises it empty
            cast(Any, error).show()
        sys.exit(2)
    except _click.ClickException as error:
        hint = ""
        if isinstance(error, _click.UsageError) and error.ctx is not None:
            hint = f" (see '{error.ctx.command_path} --help')"
        print(f"poolscope: error: {one_line(error.format_message())}{hint}", file=sys.stderr)
        sys.exit(error.exit_code)
    except UsageError as error:
        print(f"poolscope: error: {one_line(str(error))}", file=sys.stderr)
        sys.exit(2)
    except PoolscopeError as error:
        print(f"poolscope: error: {one_line(str(error))}", file=sys.stderr)
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        print("poolscope: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
