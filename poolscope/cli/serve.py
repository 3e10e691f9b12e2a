"""``poolscope serve``: the sample FastAPI service under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["serve"]


def serve(
    database_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL, MySQL or MariaDB URL [env POOLSCOPE_DATABASE_URL; default: the "
            "embedded PostgreSQL]",
            show_default=False,
        ),
    ] = None,
    driver: Annotated[
        str | None,
        typer.Option(
            help="psycopg2 or psycopg (sync routes), asyncpg or psycopg_async (async routes);"
            " pymysql or aiomysql with a MySQL/MariaDB URL [the URL's own, else psycopg2]"
        ),
    ] = None,
    pool_size: Annotated[int | None, typer.Option(help="Pool size [10]")] = None,
    max_overflow: Annotated[
        int | None, typer.Option(help="Connections beyond the size [0]")
    ] = None,
    pool_timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for a connection [30]")
    ] = None,
    leak_threshold: Annotated[
        float | None, typer.Option(help="Seconds checked out before a connection counts as leaked")
    ] = None,
    stack_capture: Annotated[
        str | None,
        typer.Option(help="Borrower a leak report names: off, site (the line) or full [site]"),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind [127.0.0.1]")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind; 0 picks a free one [8000]")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes; /metrics sums them all [1]")
    ] = None,
    thread_limit: Annotated[
        int | None, typer.Option(help="Threads for sync routes (FastAPI's default is 40) [40]")
    ] = None,
    leak_bound: Annotated[
        int | None, typer.Option(help="Sessions /antipatterns/leak may keep open [1000]")
    ] = None,
    ephemeral_db: Annotated[
        bool,
        typer.Option(help="Stop the embedded PostgreSQL on exit if this command started it."),
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Run the sample service. Every setting also reads POOLSCOPE_<NAME> (POOLSCOPE_PORT...)."""
    # Imported here so that other commands do not pay for FastAPI and uvicorn.
    from poolscope.service import serve as run_service
    from poolscope.service import settings_from

    settings = settings_from(
        database_url=database_url,
        driver=driver,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        leak_threshold=leak_threshold,
        stack_capture=stack_capture,
        host=host,
        port=port,
        workers=workers,
        thread_limit=thread_limit,
        leak_bound=leak_bound,
    )
    run_service(settings, ephemeral_db=ephemeral_db, access_log=access_log, log_level=log_level)
