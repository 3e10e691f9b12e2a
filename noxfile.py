"""The version matrix: the SQLAlchemy and driver versions pyproject.toml claims, proven.

`make test` runs the whole suite on the newest set (its .venv: the newest SQLAlchemy 2.1
and the newest psycopg2, psycopg and asyncpg), then `nox`, which runs the instrumentation,
leak, in-process service and driver tests (MATRIX_TESTS) in one virtualenv per older set:

- ``lowest``: every lower bound in pyproject.toml at once (SQLAlchemy, the three
  PostgreSQL drivers, pymysql and aiomysql, and prometheus-client, whose private histogram
  attributes the multiprocess exporter writes through), read from the file, so a bound
  cannot claim a version CI does not run;
- ``sqlalchemy-2.0``: the newest SQLAlchemy 2.0.x, with the newest drivers;
- ``opentelemetry-lowest``: the OpenTelemetry exporter's tests (OTEL_TESTS) on the lower
  bounds of OpenTelemetry's packages (the ``otel`` and ``test`` extras). A session of its
  own: pinning them also holds back what requires newer ones (recent FastAPI releases
  require opentelemetry-api), which the other sets take at their newest.

``nox -s lowest`` runs one; ``nox -- -k leak`` passes arguments on to pytest. Virtualenvs
live in .nox/ and are reused: each run installs its pins again (a no-op when they hold).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nox

nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
# The tests whose outcome the versions decide: instrumentation and leaks (tests/core), the
# sample service in process on each driver (tests/service), the embedded server and
# `db url --driver` (tests/postgres). Proven once, on the newest set: building and
# installing the wheel, and `poolscope serve` as a uvicorn process (the same service code
# the in-process tests run, plus process handling) and the fault suite, which keeps
# `make test` within CI's time budget; but the fault suite's terminated-backend and restart
# tests run here too: SQLAlchemy releases before 2.0.50 fail them on asyncpg, which is
# what sets the lower bound. The thread-pool tests (sync routes on FastAPI's thread pool
# for 30 s) are proven on the newest set only: FastAPI and anyio decide them, and those
# are the same in every set. So are the tests no installed version decides: the supported
# range's own logic and the import on SQLAlchemy 1.4 (test_versions.py pip-installs 1.4 in
# a virtualenv of its own), the layers' import graph, the public names, the thread-pool
# gauges, and the `db` command's one-line errors.
MATRIX_TESTS = [
    "tests/core",
    "tests/service",
    "tests/postgres",
    "--ignore=tests/core/test_library_install.py",
    "--ignore=tests/service/test_service_serve.py",
    "--ignore=tests/service/test_service_secrets.py",
    "--ignore=tests/service/test_faults_disconnect.py",
    "--ignore=tests/service/test_faults_shutdown.py",
    "--ignore=tests/service/test_service_threads.py",
    "--ignore=tests/core/test_versions.py",
    "--ignore=tests/core/test_layers.py",
    "--ignore=tests/core/test_public_api.py",
    "--ignore=tests/core/test_threadpool_metrics.py",
    "--deselect=tests/postgres/test_embedded.py::test_unwritable_data_dir_is_one_line_error",
    "--deselect=tests/postgres/test_embedded.py::test_url_when_stopped_is_an_error",
]
OTEL_TESTS = ["tests/core/test_opentelemetry.py", "tests/core/test_opentelemetry_otlp.py"]
# The distributions whose lower bounds CI proves, as pyproject.toml names them.
PROVEN = (
    "sqlalchemy",
    "psycopg2-binary",
    "psycopg",
    "asyncpg",
    "pymysql",
    "aiomysql",
    "prometheus-client",
)
PROVEN_OTEL = (
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-proto",
)
_LOWER_BOUND = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def lowest_pins(proven: tuple[str, ...] = PROVEN, extras: tuple[str, ...] = ("tool",)) -> list[str]:
    """``name==lower-bound`` for each ``proven`` distribution, from pyproject.toml's
    dependencies and ``extras``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements.extend(project["optional-dependencies"][extra])
    pins = {}
    for requirement in requirements:
        match = _LOWER_BOUND.match(requirement)
        if match is not None and match.group(1).lower() in proven:
            name, wanted, version = match.groups()
            pins[name.lower()] = f"{name}{wanted or ''}=={version}"
    missing = set(proven) - set(pins)
    if missing:
        raise ValueError(f"pyproject.toml gives no lower bound for {', '.join(sorted(missing))}")
    return [pins[name] for name in proven]


def run_matrix_tests(
    session: nox.Session, *pins: str, newest: str | None = None, tests: list[str] = MATRIX_TESTS
) -> None:
    """Install the tool and the test tools with ``pins``, then run ``tests``.

    ``newest``: a requirement to bring up to its newest release, even in a reused venv.
    """
    session.install("-e", ".[tool,test]", *pins, *([newest] if newest else []))
    if newest is not None:
        session.install("--upgrade", "--no-deps", newest)
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    # As many pytest-xdist workers as `make test` gives (WORKERS), else one per core.
    session.run("pytest", "-n", "auto", *(session.posargs or tests))


@nox.session
def lowest(session: nox.Session) -> None:
    """The lowest claimed SQLAlchemy, psycopg2, psycopg, asyncpg, pymysql, aiomysql and
    prometheus-client."""
    run_matrix_tests(session, *lowest_pins())


@nox.session(name="sqlalchemy-2.0")
def sqlalchemy_2_0(session: nox.Session) -> None:
    """The newest SQLAlchemy 2.0.x (what most services still run), the newest drivers."""
    run_matrix_tests(session, newest="sqlalchemy>=2.0,<2.1")


@nox.session(name="opentelemetry-lowest")
def opentelemetry_lowest(session: nox.Session) -> None:
    """The lowest claimed OpenTelemetry API, SDK, OTLP exporter and protobuf package."""
    run_matrix_tests(session, *lowest_pins(PROVEN_OTEL, ("otel", "test")), tests=OTEL_TESTS)
