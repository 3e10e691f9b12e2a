"""Database URLs: choosing the driver (the password is kept out of what is shown by
``poolscope._redact``, whose URL helpers are importable from here too)."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.engine import URL

from poolscope._errors import PoolscopeError
from poolscope._redact import mask_url, parse_url, url_secrets

__all__ = [
    "ALL_DRIVERS",
    "ASYNC_DRIVERS",
    "DRIVERS",
    "MYSQL_DRIVERS",
    "SYNC_DRIVERS",
    "Dialect",
    "Driver",
    "admin_driver",
    "check_driver",
    "choose_driver",
    "dialect_of",
    "driver_dialect",
    "is_async",
    "mask_url",
    "url_for_driver",
    "url_secrets",
]

# SQLAlchemy's own driver names (``postgresql+NAME``, ``mysql+NAME``): psycopg is psycopg 3.
Driver = Literal["psycopg2", "psycopg", "asyncpg", "psycopg_async", "pymysql", "aiomysql"]
Dialect = Literal["postgresql", "mysql"]
# PostgreSQL's drivers: the embedded server's, and what most tests run on each of.
SYNC_DRIVERS: tuple[Driver, ...] = ("psycopg2", "psycopg")
ASYNC_DRIVERS: tuple[Driver, ...] = ("asyncpg", "psycopg_async")
DRIVERS: tuple[Driver, ...] = (*SYNC_DRIVERS, *ASYNC_DRIVERS)
# MySQL's and MariaDB's: pymysql (sync), aiomysql (async).
MYSQL_DRIVERS: tuple[Driver, ...] = ("pymysql", "aiomysql")
ALL_DRIVERS: tuple[Driver, ...] = (*DRIVERS, *MYSQL_DRIVERS)
_BACKENDS: dict[str, Dialect] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}


def check_driver(driver: str) -> Driver:
    """``driver`` as a :data:`Driver`, or a :class:`PoolscopeError` naming the choices."""
    for known in ALL_DRIVERS:
        if driver == known:
            return known
    raise PoolscopeError(f"unknown driver {driver!r}; choose one of {', '.join(ALL_DRIVERS)}")


def is_async(driver: Driver) -> bool:
    """Whether ``driver`` is spoken to through an ``AsyncEngine``."""
    return driver in ASYNC_DRIVERS or driver == "aiomysql"


def driver_dialect(driver: Driver) -> Dialect:
    """The database ``driver`` speaks to."""
    return "mysql" if driver in MYSQL_DRIVERS else "postgresql"


def dialect_of(url: str | URL) -> Dialect:
    """The database a URL names: PostgreSQL, or MySQL (MariaDB included)."""
    backend = parse_url(url).get_backend_name()
    if backend not in _BACKENDS:
        raise PoolscopeError(
            f"poolscope speaks to PostgreSQL and MySQL/MariaDB; the URL names {backend!r}"
        )
    return _BACKENDS[backend]


def admin_driver(url: str | URL) -> Driver:
    """The sync driver poolscope's own short connections take (settings, seeding, kills)."""
    return "pymysql" if dialect_of(url) == "mysql" else "psycopg2"


def choose_driver(driver: str | None, database_url: str | None) -> Driver:
    """``--driver`` when given (checked against the URL's database), else the URL's own:
    the MySQL driver a ``mysql+NAME://`` URL names, pymysql for a plain ``mysql://``, and
    psycopg2 for PostgreSQL and the embedded server."""
    if driver is not None:
        chosen = check_driver(driver)
        if database_url:
            url_for_driver(database_url, chosen)
        return chosen
    if database_url and dialect_of(database_url) == "mysql":
        named = parse_url(database_url).get_driver_name()
        return check_driver(named) if named in MYSQL_DRIVERS else "pymysql"
    return "psycopg2"


def url_for_driver(url: str | URL, driver: Driver) -> URL:
    """The same server and credentials, spoken to through ``driver`` (a PostgreSQL driver
    for a PostgreSQL URL, pymysql or aiomysql for a MySQL or MariaDB one)."""
    check_driver(driver)
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    wanted = driver_dialect(driver)
    if _BACKENDS.get(backend) != wanted:
        spoken = "PostgreSQL" if wanted == "postgresql" else "MySQL/MariaDB"
        raise PoolscopeError(f"{driver} speaks to {spoken}; the URL names {backend!r}")
    # SQLAlchemy knows postgresql, not postgres; mariadb+NAME stays MariaDB's own dialect.
    named = "postgresql" if wanted == "postgresql" else backend
    return parsed.set(drivername=f"{named}+{driver}")
