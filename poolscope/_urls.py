"""Database URLs: choosing the driver and keeping the password out of everything shown."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from poolscope._errors import PoolscopeError

__all__ = [
    "ASYNC_DRIVERS",
    "DRIVERS",
    "SYNC_DRIVERS",
    "Driver",
    "check_driver",
    "is_async",
    "mask_url",
    "url_for_driver",
]

# SQLAlchemy's own dialect names (``postgresql+NAME``): psycopg is psycopg 3.
Driver = Literal["psycopg2", "psycopg", "asyncpg", "psycopg_async"]
SYNC_DRIVERS: tuple[Driver, ...] = ("psycopg2", "psycopg")
ASYNC_DRIVERS: tuple[Driver, ...] = ("asyncpg", "psycopg_async")
DRIVERS: tuple[Driver, ...] = (*SYNC_DRIVERS, *ASYNC_DRIVERS)


def check_driver(driver: str) -> Driver:
    """``driver`` as a :data:`Driver`, or a :class:`PoolscopeError` naming the choices."""
    for known in DRIVERS:
        if driver == known:
            return known
    raise PoolscopeError(f"unknown driver {driver!r}; choose one of {', '.join(DRIVERS)}")


def is_async(driver: Driver) -> bool:
    """Whether ``driver`` is spoken to through an ``AsyncEngine``."""
    return driver in ASYNC_DRIVERS


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
    check_driver(driver)
    parsed = _parse(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise PoolscopeError(
            f"poolscope speaks to PostgreSQL; the URL names {parsed.get_backend_name()!r}"
        )
    return parsed.set(drivername=f"postgresql+{driver}")
