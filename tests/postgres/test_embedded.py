"""The embedded PostgreSQL server and ``poolscope db``, driven as a user drives them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from poolscope._urls import ASYNC_DRIVERS, SYNC_DRIVERS, mask_url, url_for_driver

pytestmark = [pytest.mark.slow, pytest.mark.process]


def poolscope(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POOLSCOPE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "poolscope", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Under /tmp itself: the server's system user (when tests run as root) cannot enter
    # pytest's 0700 base directory.
    root = Path(tempfile.mkdtemp(prefix="poolscope-db-cli-"))
    yield root / "pg"
    subprocess.run(
        [sys.executable, "-m", "poolscope", "db", "stop"],
        env={**os.environ, "POOLSCOPE_DATA_DIR": str(root / "pg")},
        capture_output=True,
        timeout=120,
    )
    shutil.rmtree(root, ignore_errors=True)


async def test_db_cli_lifecycle(data_dir: Path) -> None:
    first = poolscope("db", "start", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "started" in first.stdout
    second = poolscope("db", "start", data_dir=data_dir)
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout

    url = poolscope("db", "url", data_dir=data_dir).stdout.strip()
    password = (data_dir / "password").read_text().strip()
    assert password in url
    assert stat.S_IMODE((data_dir / "password").stat().st_mode) == 0o600

    status = poolscope("db", "status", data_dir=data_dir)
    assert status.returncode == 0
    assert "running" in status.stdout
    assert mask_url(url) in status.stdout
    assert password not in status.stdout + status.stderr + first.stdout + second.stdout

    psql = subprocess.run(
        ["psql", url, "-tAc", "select current_user"], capture_output=True, text=True, timeout=30
    )
    assert psql.stdout.strip() == "postgres", psql.stderr

    # `db url --driver` names SQLAlchemy's driver: the URL goes to create_engine() as is.
    for driver in SYNC_DRIVERS:
        driver_url = poolscope("db", "url", "--driver", driver, data_dir=data_dir).stdout.strip()
        assert driver_url == f"postgresql+{driver}://{url.removeprefix('postgresql://')}"
        engine = create_engine(driver_url)
        with engine.connect() as connection:
            assert connection.scalar(text("select inet_server_addr()::text")) == "127.0.0.1/32"
        engine.dispose()
    for driver in ASYNC_DRIVERS:
        driver_url = poolscope("db", "url", "--driver", driver, data_dir=data_dir).stdout.strip()
        assert driver_url.startswith(f"postgresql+{driver}://")
        async_engine = create_async_engine(driver_url)
        async with async_engine.connect() as connection:
            assert await connection.scalar(text("select 41 + 1")) == 42
        await async_engine.dispose()
    unknown = poolscope("db", "url", "--driver", "pg8000", data_dir=data_dir)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("poolscope: error: unknown driver 'pg8000'; choose one of")

    stopped = poolscope("db", "stop", data_dir=data_dir)
    assert stopped.returncode == 0
    after = poolscope("db", "status", data_dir=data_dir)
    assert after.returncode == 3
    assert "stopped" in after.stdout


def test_wrong_password_is_refused(database_url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    wrong = make_url(url_for_driver(database_url, "psycopg2")).set(password="not-the-password")
    engine = create_engine(wrong)
    with pytest.raises(OperationalError, match="password authentication failed"):
        engine.connect()
    engine.dispose()


def test_unwritable_data_dir_is_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = poolscope("db", "start", data_dir=blocker / "pg")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("poolscope: error: cannot use data directory")
    assert "Traceback" not in result.stderr


def test_url_when_stopped_is_an_error(tmp_path: Path) -> None:
    result = poolscope("db", "url", data_dir=tmp_path / "never-started")
    assert result.returncode == 1
    assert "not running" in result.stderr
