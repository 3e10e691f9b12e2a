"""The borrower is the application's line, not the installed library it called.

A checkout made through a wrapper library (SQLModel, a company's installed database
package) names the application's frame that called the library; the library's frame is
the borrower only when no frame of the application's exists; ``"full"`` shows both.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import subprocess
import sys
import sysconfig
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection, Engine, create_engine, text
from sqlmodel import Session, select

import poolscope
from poolscope import url_for_driver

# The installed wrapper: a company's database package, as a wheel.
WRAPPER = "acme_db"
WRAPPER_SOURCE = '''"""Acme's database helpers."""


def connect(engine):
    connection = engine.connect()
    connection.exec_driver_sql("SELECT 1")
    return connection


def connect_and_keep(engine, kept):
    kept.append(connect(engine))
'''


def build_wheel(directory: Path) -> Path:
    """A pure-Python wheel of the wrapper, written as the wheel format says."""
    dist_info = f"{WRAPPER}-1.0.dist-info"
    files = {
        f"{WRAPPER}/__init__.py": WRAPPER_SOURCE,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {WRAPPER}\nVersion: 1.0\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: poolscope-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = []
    for name, content in files.items():
        digest = hashlib.sha256(content.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{name},sha256={encoded},{len(content.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{WRAPPER}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return wheel


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The wrapper pip-installed into a fresh virtualenv's site-packages, imported from
    there."""
    root = tmp_path_factory.mktemp("wrapper")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*install, "--target", site_packages, str(build_wheel(root))], check=True)
    sys.path.insert(0, site_packages)
    try:
        module = __import__(WRAPPER)
        assert module.__file__ is not None
        assert module.__file__.startswith(site_packages)
        yield module
    finally:
        sys.path.remove(site_packages)
        sys.modules.pop(WRAPPER, None)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(url_for_driver(database_url, "psycopg"))
    yield engine
    engine.dispose()


def borrowers(instrumentation: poolscope.Instrumentation) -> list[str]:
    return [connection.borrower for connection in instrumentation.checked_out()]


def through_the_wrapper(wrapper: ModuleType, engine: Engine) -> Connection:
    connection: Connection = wrapper.connect(engine)
    return connection


def test_a_wrapper_library_names_the_application_line_that_called_it(
    wrapper: ModuleType, engine: Engine
) -> None:
    with poolscope.instrument(
        engine, pool="wrapped", registry=CollectorRegistry(), leak_threshold=60
    ) as instrumentation:
        connection = through_the_wrapper(wrapper, engine)
        try:
            [borrower] = borrowers(instrumentation)
        finally:
            connection.close()
    assert "test_borrower_libraries.py" in borrower
    assert "in through_the_wrapper\n" in borrower
    assert "connection: Connection = wrapper.connect(engine)" in borrower
    assert WRAPPER not in borrower


def test_the_library_is_the_borrower_when_no_application_frame_exists(
    wrapper: ModuleType, engine: Engine
) -> None:
    # A thread started on the library's own function: threading (the standard library)
    # and the wrapper are all the stack holds.
    kept: list[Connection] = []
    with poolscope.instrument(
        engine, pool="wrapped", registry=CollectorRegistry(), leak_threshold=60
    ) as instrumentation:
        thread = threading.Thread(target=wrapper.connect_and_keep, args=(engine, kept))
        thread.start()
        thread.join()
        try:
            [borrower] = borrowers(instrumentation)
        finally:
            for connection in kept:
                connection.close()
    assert f"{WRAPPER}/__init__.py" in borrower
    assert "in connect\n" in borrower


def test_full_stack_capture_keeps_the_library_frames(
    wrapper: ModuleType, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with poolscope.instrument(
        engine,
        pool="wrapped",
        registry=CollectorRegistry(),
        leak_threshold=0.05,
        stack_capture="full",
    ):
        connection = through_the_wrapper(wrapper, engine)
        try:
            deadline = time.monotonic() + 10
            while not [r for r in caplog.records if r.levelno == logging.WARNING]:
                assert time.monotonic() < deadline, "no leak report"
                time.sleep(0.02)
        finally:
            connection.close()
    report = next(r for r in caplog.records if r.levelno == logging.WARNING).getMessage()
    stack = report.split("Borrowed at:")[1]
    # Outermost first, as Python prints a traceback: the test, then the library's line.
    assert stack.index("in through_the_wrapper") < stack.index(f"{WRAPPER}/__init__.py")
    assert "connection = engine.connect()" in stack


def test_sqlmodel_names_the_application_line(engine: Engine) -> None:
    with (
        poolscope.instrument(
            engine, pool="sqlmodel", registry=CollectorRegistry(), leak_threshold=60
        ) as instrumentation,
        Session(engine) as session,
    ):
        session.exec(select(text("1")))  # type: ignore[call-overload]
        [borrower] = borrowers(instrumentation)
    assert "test_borrower_libraries.py" in borrower
    assert "in test_sqlmodel_names_the_application_line\n" in borrower
    assert "sqlmodel/orm" not in borrower
