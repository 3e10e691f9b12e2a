"""``poolscope db start|stop|status|url``: the embedded PostgreSQL server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poolscope.postgres import EmbeddedPostgres

app = typer.Typer(help="Manage the embedded PostgreSQL server.", no_args_is_help=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="POOLSCOPE_DATA_DIR",
        help="Where the server keeps its data (default: the user's cache directory).",
        show_default=False,
    ),
]


@app.command()
def start(data_dir: DataDir = None) -> None:
    """Start the server (a no-op when it is running) and print its masked URL."""
    server = EmbeddedPostgres(data_dir)
    was_running = server.status().running
    server.start()
    status = server.status()
    verb = "already running" if was_running else "started"
    typer.echo(f"PostgreSQL {verb} at {status.masked_url} (data in {status.data_root})")


@app.command()
def stop(data_dir: DataDir = None) -> None:
    """Stop the server."""
    server = EmbeddedPostgres(data_dir)
    if server.stop():
        typer.echo(f"PostgreSQL stopped (data kept in {server.data_root})")
    else:
        typer.echo("PostgreSQL was not running")


@app.command()
def status(data_dir: DataDir = None) -> None:
    """Say whether the server runs, where, and with which (masked) URL. Exit 3 when stopped."""
    state = EmbeddedPostgres(data_dir).status()
    if state.running:
        typer.echo(f"running  pid {state.pid}  {state.masked_url}  data {state.data_root}")
    else:
        typer.echo(f"stopped  data {state.data_root}")
        raise typer.Exit(3)


@app.command()
def url(data_dir: DataDir = None) -> None:
    """Print the full URL, password included (for psql or your own engine)."""
    state = EmbeddedPostgres(data_dir).status()
    if state.url is None:
        typer.echo(
            "poolscope: error: PostgreSQL is not running; run `poolscope db start`", err=True
        )
        raise typer.Exit(1)
    typer.echo(state.url)
