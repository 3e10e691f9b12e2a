"""Database URLs: choosing the driver and keeping the password out of everything shown."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

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


MASK = "***"


def _parse(url: str | URL) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        # SQLAlchemy's message repeats the URL, password included.
        raise PoolscopeError("the database URL could not be parsed") from None


def mask_url(url: str | URL) -> str:
    """The URL as it may be shown: the password replaced by ``***``, where it is given as
    userinfo and in a query parameter (``?password=``, ``?sslpassword=``) alike."""
    parsed = _parse(url)
    secret = [name for name in parsed.query if "password" in name.lower()]
    shown = parsed.render_as_string(hide_password=True)
    if not secret:
        return shown
    masked = parsed.update_query_dict(dict.fromkeys(secret, MASK))
    # SQLAlchemy percent-encodes the mask in a query.
    return masked.render_as_string(hide_password=True).replace(quote(MASK, safe=""), MASK)


def url_secrets(url: str | URL) -> list[str]:
    """The secrets a URL holds (its password, in any form), to scrub from messages."""
    parsed = _parse(url)
    found = [parsed.password] if parsed.password else []
    for name, value in parsed.query.items():
        if "password" in name.lower():
            found.extend([value] if isinstance(value, str) else value)
    return [str(secret) for secret in found if secret]


def url_for_driver(url: str | URL, driver: Driver) -> URL:
    """The same PostgreSQL server and credentials, spoken to through ``driver``."""
    check_driver(driver)
    parsed = _parse(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise PoolscopeError(
            f"poolscope speaks to PostgreSQL; the URL names {parsed.get_backend_name()!r}"
        )
    return parsed.set(drivername=f"postgresql+{driver}")
