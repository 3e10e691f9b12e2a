"""Database URLs: choosing the driver (the password is kept out of what is shown by
``poolscope._redact``, whose URL helpers are importable from here too)."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.engine import URL

from poolscope._errors import PoolscopeError
from poolscope._redact import mask_url, parse_url, url_secrets

__all__ = [
    "ASYNC_DRIVERS",
    "DRIVERS",
    "SYNC_DRIVERS",
    "Driver",
    "check_driver",
    "is_async",
    "mask_url",
    "url_for_driver",
    "url_secrets",
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


def url_for_driver(url: str | URL, driver: Driver) -> URL:
    """The same PostgreSQL server and credentials, spoken to through ``driver``."""
    check_driver(driver)
    parsed = parse_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise PoolscopeError(
            f"poolscope speaks to PostgreSQL; the URL names {parsed.get_backend_name()!r}"
        )
    return parsed.set(drivername=f"postgresql+{driver}")
