"""Shared fixtures: one real PostgreSQL (and, for the MySQL tests, one real MariaDB) per
test session, engines for every driver."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from poolscope._urls import ASYNC_DRIVERS, MYSQL_DRIVERS, SYNC_DRIVERS, Driver, url_for_driver
from poolscope.postgres import EmbeddedPostgres
from tests.support.engines import async_engines_on, engines_on
from tests.support.example_service import running_example
from tests.support.mariadb import MariaDB
from tests.support.scheduling import ModuleFixtureScheduling

TEST_DATABASE_URL_ENV = "POOLSCOPE_TEST_DATABASE_URL"
TEST_MYSQL_URL_ENV = "POOLSCOPE_TEST_MYSQL_URL"

# The property tests draw the same examples on every run and machine: a failure is
# reproduced by running again, never a one-off. (Loaded before any test module builds
# its own settings, which inherit it.)
settings.register_profile("poolscope", derandomize=True)
settings.load_profile("poolscope")


# Markers of the tests that start processes or play load: their modules run first, so under
# pytest-xdist the long ones are not left for the end while the other workers idle.
SLOW_MARKERS = ("slow", "e2e", "process", "browser", "external")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules holding a slow test first, each module's tests kept together and in
    order (a module-scoped fixture is then built once)."""
    slow_modules = {
        item.module for item in items if any(item.get_closest_marker(m) for m in SLOW_MARKERS)
    }
    items.sort(key=lambda item: item.module not in slow_modules)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> ModuleFixtureScheduling:
    return ModuleFixtureScheduling(config, log)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A plain ``postgresql://`` URL: ``$POOLSCOPE_TEST_DATABASE_URL``, else a fresh embedded
    server in a temporary directory, stopped and removed when the session ends."""
    given = os.environ.get(TEST_DATABASE_URL_ENV)
    if given:
        yield given
        return
    root = Path(tempfile.mkdtemp(prefix="poolscope-test-pg-"))
    server = EmbeddedPostgres(root)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """A plain ``mysql://`` URL with a password: ``$POOLSCOPE_TEST_MYSQL_URL``, else a fresh
    MariaDB in a temporary directory, stopped and removed when the session ends."""
    given = os.environ.get(TEST_MYSQL_URL_ENV)
    if given:
        yield given
        return
    # Under /tmp itself, as the embedded PostgreSQL: a short socket path, no pytest 0700 base.
    root = Path(tempfile.mkdtemp(prefix="poolscope-test-mariadb-"))
    server = MariaDB(root)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=MYSQL_DRIVERS)
def mysql_driver(request: pytest.FixtureRequest) -> Driver:
    """pymysql, then aiomysql: a test that takes it runs once per MySQL driver."""
    driver: Driver = request.param
    return driver


@pytest.fixture(scope="session")
def example_host(database_url: str) -> Iterator[str]:
    """The own-service example (examples/orders) with a pool of 2, started once: the tests
    that load it and leave its settings alone share it (each reads its own run's figures)."""
    with running_example(database_url, pool_size=2) as host:
        yield host


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def admin_engine(database_url: str) -> Iterator[Engine]:
    """For a test's own bookkeeping (roles, pg_stat_activity): one driver, not each."""
    engine = create_engine(url_for_driver(database_url, "psycopg2"))
    yield engine
    engine.dispose()


@pytest.fixture(params=SYNC_DRIVERS)
def sync_driver(request: pytest.FixtureRequest) -> Driver:
    """Each sync driver in turn: a test that takes it runs once per driver."""
    driver: Driver = request.param
    return driver


@pytest.fixture(params=ASYNC_DRIVERS)
def async_driver(request: pytest.FixtureRequest) -> Driver:
    """Each async driver in turn: a test that takes it runs once per driver."""
    driver: Driver = request.param
    return driver


@pytest.fixture
def sync_engine(database_url: str, sync_driver: Driver) -> Iterator[Engine]:
    engine = create_engine(url_for_driver(database_url, sync_driver))
    yield engine
    engine.dispose()


@pytest.fixture
async def async_engine(database_url: str, async_driver: Driver) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(url_for_driver(database_url, async_driver))
    yield engine
    await engine.dispose()


@pytest.fixture
def make_engine(database_url: str, sync_driver: Driver) -> Iterator[Callable[..., Engine]]:
    """Builds sync engines on the test database with the given arguments, disposed after."""
    with engines_on(url_for_driver(database_url, sync_driver)) as make:
        yield make


@pytest.fixture
async def make_async_engine(
    database_url: str, async_driver: Driver
) -> AsyncIterator[Callable[..., AsyncEngine]]:
    """Builds async engines on the test database with the given arguments, disposed after."""
    async with async_engines_on(url_for_driver(database_url, async_driver)) as make:
        yield make
