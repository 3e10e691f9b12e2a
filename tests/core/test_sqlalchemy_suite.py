"""SQLAlchemy's own pool, pool-logging and asyncio tests, run against poolscope's pools.

From the sdist of the very SQLAlchemy version installed here (each nox session runs this
on its own), with SQLAlchemy's test plugin and its default database (sqlite), all runs at
once: ``test/engine/test_pool.py`` and ``test_logging.py`` stock; with ``QueuePool`` and
``AsyncAdaptedQueuePool`` rebound to poolscope's classes before the tests import; and with
every such pool also passed through ``instrument()`` with leak detection on. Then
``test/ext/asyncio`` on aiosqlite, stock and rebound (tests/support/
sqlalchemy_suite_plugin.py does the rebinding). Every test that passes on stock must pass
rebound, but the EXCLUDED ones, each with its reason. docs/sqlalchemy-compatibility.md
says what they cover."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest
import sqlalchemy

ROOT = Path(__file__).resolve().parents[2]
# The runs, by name: which of SQLAlchemy's tests, with poolscope how ("stock": not at all).
SUITES = {
    "pool": ["test/engine/test_pool.py", "test/engine/test_logging.py"],
    # On a sqlite file: aiosqlite's pool is an AsyncAdaptedQueuePool there (StaticPool in
    # memory).
    "asyncio": ["test/ext/asyncio"],
}
RUNS = {
    "pool-stock": ("pool", "stock"),
    "pool-rebind": ("pool", "rebind"),
    "pool-instrument": ("pool", "instrument"),
    "asyncio-stock": ("asyncio", "stock"),
    "asyncio-rebind": ("asyncio", "rebind"),
}
PLUGIN = "tests.support.sqlalchemy_suite_plugin"
# The one place for SQLAlchemy tests that may fail against poolscope, by run, each with
# its reason (fnmatch patterns: the asyncio tests' class names carry the sqlite version).
EXCLUDED: dict[str, dict[str, str]] = {
    "pool-rebind": {},
    "pool-instrument": {
        "test.engine.test_pool.PoolTest.test_no_connect_on_recreate": (
            "asserts type(pool.recreate()) is QueuePool: instrument() gives a pool a "
            "subclass of its class of its own (it carries the measuring probe), which "
            "recreate() keeps; isinstance() holds"
        ),
    },
    "asyncio-rebind": {
        "test.ext.asyncio.test_engine.AsyncEngineTest*.test_cant_use_async_pool_w_create_engine": (
            "create_engine(poolclass=AsyncAdaptedQueuePool) is refused as on stock, but "
            "the message names the class given, InstrumentedAsyncAdaptedQueuePool"
        ),
    },
}
# PyPI's simple index (what pip reads), JSON form.
SIMPLE_INDEX = "https://pypi.org/simple/sqlalchemy/"
_MEASURING_NAME = re.compile(r"\bInstrumented(\w*QueuePool)\b")


def sdist_source(cache: Path, version: str) -> Path:
    """SQLAlchemy ``version``'s sdist, unpacked under ``cache`` (fetched once, checked
    against the index's sha256). Not ``pip download --no-binary``: that builds the
    package's metadata, minutes of work for a file we only unpack."""
    source = cache / f"sqlalchemy-{version}"
    if (source / "test" / "engine" / "test_pool.py").exists():
        return source
    request = urllib.request.Request(
        SIMPLE_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    [sdist] = [f for f in files if f["filename"].lower() == f"sqlalchemy-{version}.tar.gz"]
    with urllib.request.urlopen(sdist["url"], timeout=300) as response:
        body = response.read()
    assert hashlib.sha256(body).hexdigest() == sdist["hashes"]["sha256"]
    # Unpacked beside, then renamed: a concurrent session sees all of it or none.
    unpacking = Path(tempfile.mkdtemp(dir=cache))
    archive = unpacking / sdist["filename"]
    archive.write_bytes(body)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacking, filter="data")
    [unpacked] = [path for path in unpacking.iterdir() if path.is_dir()]
    with contextlib.suppress(OSError):  # another session got there first
        unpacked.rename(source)
    shutil.rmtree(unpacking, ignore_errors=True)
    return source


class SuiteRun:
    def __init__(self, source: Path, name: str, out: Path) -> None:
        suite, mode = RUNS[name]
        self.junit = out / f"{name}.xml"
        self.counts = out / f"{name}-counts.json"
        self.log = out / f"{name}.log"
        env = {
            **os.environ,
            # SQLAlchemy's plugin alone: none of ours (asyncio, timeout) in its run.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PYTHONPATH": str(ROOT),
            "POOLSCOPE_SUITE_MODE": mode,
            "POOLSCOPE_SUITE_COUNTS": str(self.counts),
        }
        # Each run in a folder of its own: SQLAlchemy's sqlite provisioning writes its
        # files (the attached test_schema databases) into the working directory, and
        # runs that share one delete them from under each other.
        self.folder = out / name
        self.folder.mkdir()
        # -s: SQLAlchemy's conftest would put the sdist's lib/ first on the path; the
        # tests run against the installed SQLAlchemy, the one poolscope runs on.
        command = [sys.executable, "-s", "-m", "pytest", f"--rootdir={source}"]
        command += [str(source / path) for path in SUITES[suite]]
        command += ["-p", PLUGIN] if mode != "stock" else []
        command += ["-p", "no:cacheprovider", "-q", f"--junitxml={self.junit}"]
        if suite == "asyncio":
            # Relative, so in the run's own folder: SQLAlchemy rebuilds a sqlite file name
            # from its text up to the first "_" or ".", which a temporary folder's random
            # name can hold, and two runs would then share one file.
            command.append("--dburi=sqlite+aiosqlite:///asyncio.db")
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def outcomes(self) -> dict[str, str]:
        """Each test's outcome: passed, failure, error or skipped."""
        self.process.wait(timeout=900)
        assert self.junit.exists(), self.log.read_text()[-3000:]
        outcomes = {}
        for case in ElementTree.parse(self.junit).iter("testcase"):
            # Parametrized by pool class: named after the class the test module sees.
            name = _MEASURING_NAME.sub(r"\1", str(case.get("name")))
            test = f"{case.get('classname')}.{name}"
            kinds = {child.tag for child in case}
            outcome = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
            outcomes[test] = outcome
        return outcomes

    def pools(self, counted: str) -> dict[str, int]:
        """The pools the run ``built`` or ``instrumented``, by class name."""
        counts: dict[str, int] = json.loads(self.counts.read_text())[counted]
        return counts


@pytest.fixture(scope="module")
def suite_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, SuiteRun]]:
    """Every run, at once: SQLAlchemy's pool tests mostly wait on timeouts."""
    cache = request.config.cache.mkdir("sqlalchemy-sdist")  # type: ignore[union-attr]
    source = sdist_source(cache, sqlalchemy.__version__)
    # In memory where there is a tmpfs: the asyncio tests' sqlite file is written to
    # (and synced) by every test, which on a disk takes them from under a minute to two.
    memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    out = Path(tempfile.mkdtemp(prefix="poolscope-sqlalchemy-suite-", dir=memory))
    runs = {name: SuiteRun(source, name, out) for name in RUNS}
    try:
        yield runs
    finally:
        for run in runs.values():
            if run.process.poll() is None:
                run.process.kill()
            run.process.wait()
        shutil.rmtree(out, ignore_errors=True)


def assert_passes_as_on_stock(runs: dict[str, SuiteRun], name: str) -> None:
    """Every test that passes on stock passes in run ``name``, but its exclusions."""
    stock_run = runs[f"{RUNS[name][0]}-stock"]
    stock = stock_run.outcomes()
    passed_on_stock = {test for test, outcome in stock.items() if outcome == "passed"}
    assert len(passed_on_stock) > 100, stock_run.log.read_text()[-3000:]
    run = runs[name]
    outcomes = run.outcomes()
    assert set(outcomes) == set(stock)
    patterns = EXCLUDED[name]
    excluded = {test for test in stock if any(fnmatch(test, p) for p in patterns)}
    failing = sorted(test for test in passed_on_stock - excluded if outcomes[test] != "passed")
    assert failing == [], f"{failing}\n{run.log.read_text()[-6000:]}"
    # An exclusion no longer needed is taken off the list.
    assert [test for test in excluded if outcomes[test] == "passed"] == []


@pytest.mark.slow
# Runs of about 200 and 300 tests, mostly waiting on pool timeouts.
@pytest.mark.process
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", ["pool-rebind", "pool-instrument"])
def test_sqlalchemys_pool_tests_pass_on_poolscopes_pools(
    suite_runs: dict[str, SuiteRun], name: str
) -> None:
    assert_passes_as_on_stock(suite_runs, name)
    # The rebinding took effect: the pools the tests built are poolscope's, none stock.
    built = suite_runs[name].pools("built")
    assert built.get("InstrumentedQueuePool", 0) > 100, built
    assert built.get("InstrumentedAsyncAdaptedQueuePool", 0) > 0, built
    assert "QueuePool" not in built, built
    assert "AsyncAdaptedQueuePool" not in built, built
    if name == "pool-instrument":
        # Every one passed through instrument(); recreate() of an instrumented pool builds
        # one of the class instrument() made.
        instrumented = suite_runs[name].pools("instrumented")
        for pool_class in ("InstrumentedQueuePool", "InstrumentedAsyncAdaptedQueuePool"):
            assert instrumented[pool_class] == built[pool_class], (built, instrumented)
        assert built.get("PoolscopeInstrumentedQueuePool", 0) > 0, built


@pytest.mark.process
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sqlalchemys_asyncio_tests_pass_on_poolscopes_pools(
    suite_runs: dict[str, SuiteRun],
) -> None:
    assert_passes_as_on_stock(suite_runs, "asyncio-rebind")
    built = suite_runs["asyncio-rebind"].pools("built")
    assert built.get("InstrumentedAsyncAdaptedQueuePool", 0) > 100, built
    assert "AsyncAdaptedQueuePool" not in built, built
