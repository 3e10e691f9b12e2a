"""Database URLs: choosing the driver and keeping the password out of everything shown."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from poolscope._errors import PoolscopeError

__all__ = ["Driver", "mask_url", "url_for_driver"]

Driver = Literal["psycopg2", "asyncpg"]
DRIVERS: tuple[Driver, ...] = ("psycopg2", "asyncpg")


def _parse(url: str | URL) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        # SQLAlchemy's message repeats the URL, password included.
        raise PoolscopeError("the database URL could not be parsed") from None


def mask_url(url: str | URL) -> str:
    """The URL as it may be shown: password replaced by ``***``."""
    return _parse(url).render_as_string(hide_password=True)


def url_for_driver(url: str | URL, driver: Driver) -> URL:
    """The same PostgreSQL server and credentials, spoken to through ``driver``."""
    if driver not in DRIVERS:
        raise PoolscopeError(f"unknown driver {driver!r}; choose one of {', '.join(DRIVERS)}")
    parsed = _parse(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise PoolscopeError(
            f"poolscope speaks to PostgreSQL; the URL names {parsed.get_backend_name()!r}"
        )
    return parsed.set(drivername=f"postgresql+{driver}")
