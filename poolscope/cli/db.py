"""``poolscope db start|stop|status|url``: the embedded PostgreSQL server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poolscope._urls import check_driver, url_for_driver
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
def url(
    data_dir: DataDir = None,
    driver: Annotated[
        str | None,
        typer.Option(
            help="Name a SQLAlchemy driver in the URL (postgresql+DRIVER://): psycopg2, "
            "psycopg, asyncpg or psycopg_async. Default: plain postgresql:// (psql, libpq).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the full URL, password included (for psql or your own engine)."""
    chosen = check_driver(driver) if driver is not None else None
    state = EmbeddedPostgres(data_dir).status()
    if state.url is None:
        typer.echo(
            "poolscope: error: PostgreSQL is not running; run `poolscope db start`", err=True
        )
        raise typer.Exit(1)
    if chosen is None:
        typer.echo(state.url)
    else:
        typer.echo(url_for_driver(state.url, chosen).render_as_string(hide_password=False))
