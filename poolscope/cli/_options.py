"""Options that ``poolscope run`` and ``poolscope sweep`` share, spelled once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "DatabaseUrl",
    "DriverName",
    "Locustfile",
    "MetricsUrl",
    "PoolName",
    "ScenarioName",
    "UserClasses",
    "WarmupDuration",
    "Workers",
]

ScenarioName = Annotated[
    str | None,
    typer.Argument(
        help="A scenario name (see `poolscope scenarios`); or give --locustfile.",
        show_default=False,
    ),
]
Locustfile = Annotated[
    Path | None,
    typer.Option(
        "--locustfile",
        "-f",
        help="Play this Locust test instead of a scenario (against --host, or a service "
        "sweep starts with --serve-cmd).",
        show_default=False,
    ),
]
UserClasses = Annotated[
    list[str] | None,
    typer.Option(
        "--user-class",
        help="With --locustfile: a user class to run; repeatable (default: as Locust picks).",
        show_default=False,
    ),
]
MetricsUrl = Annotated[
    str | None,
    typer.Option(
        help="Where the target serves its metrics (default: HOST/metrics; redirects are followed).",
        show_default=False,
    ),
]
PoolName = Annotated[
    str | None,
    typer.Option(
        help="The pool to record when the target exports several (its `pool` label).",
        show_default=False,
    ),
]
DriverName = Annotated[
    str | None,
    typer.Option(
        "--driver",
        help="psycopg2 or psycopg (sync routes), asyncpg or psycopg_async (async routes); "
        "pymysql or aiomysql with a MySQL/MariaDB --database-url "
        "(default: the URL's own, else psycopg2).",
        show_default=False,
    ),
]
Workers = Annotated[int, typer.Option(min=1, help="Service worker processes.")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="POOLSCOPE_DATABASE_URL",
        help="PostgreSQL, MySQL or MariaDB for the service (default: the embedded PostgreSQL).",
        show_default=False,
    ),
]
WarmupDuration = Annotated[
    str | None,
    typer.Option(
        "--warmup",
        help="Play this long first (10s, 1m, ...), then --duration: figures and verdicts "
        "cover only the time after the warm-up; the run file keeps the whole run's too.",
        show_default=False,
    ),
]
