"""Where a run was played: versions and machine, for the run file's ``environment``."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib.metadata import PackageNotFoundError, version

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from poolscope._errors import PoolscopeError
from poolscope._urls import admin_driver, dialect_of, url_for_driver, url_secrets
from poolscope.readings import Environment

__all__ = [
    "describe_environment",
    "max_connections",
    "passwords_of",
    "postgresql_version",
    "server_setting",
]


def _version(package: str) -> str:
    # Read from the installed metadata: importing locust would gevent-patch this process.
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def passwords_of(database_url: str) -> list[str]:
    """The URL's passwords, userinfo and query alike (to mask them in logs shown)."""
    with contextlib.suppress(Exception):
        return url_secrets(database_url)
    return []


def server_setting(database_url: str, name: str) -> str | None:
    """A setting of the server (``SHOW name``; ``SELECT @@name`` on MySQL), or None when it
    cannot be reached."""
    try:
        mysql = dialect_of(database_url) == "mysql"
        engine = create_engine(
            url_for_driver(database_url, admin_driver(database_url)), poolclass=NullPool
        )
    except PoolscopeError:
        return None
    # Neither takes bind parameters; ``name`` is one of ours, never user input.
    statement = f"SELECT @@{name}" if mysql else f"SHOW {name}"
    try:
        with engine.connect() as connection:
            return str(connection.execute(text(statement)).scalar_one())
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def postgresql_version(database_url: str) -> str | None:
    """PostgreSQL's version; None on MySQL (the run file's field names PostgreSQL)."""
    with contextlib.suppress(PoolscopeError):
        if dialect_of(database_url) == "mysql":
            return None
    return server_setting(database_url, "server_version")


def max_connections(database_url: str) -> int | None:
    """The server's ``max_connections``, or None when it cannot be read."""
    value = server_setting(database_url, "max_connections")
    return int(value) if value is not None and value.isdigit() else None


def describe_environment(database_url: str | None) -> Environment:
    return Environment(
        poolscope=_version("poolscope"),
        python=platform.python_version(),
        sqlalchemy=_version("sqlalchemy"),
        locust=_version("locust"),
        postgresql=postgresql_version(database_url) if database_url else None,
        platform=platform.platform(),
        cpus=os.cpu_count() or 1,
    )
