"""An unsupported SQLAlchemy is refused in one error naming the supported range."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import poolscope
from poolscope._compat import check_sqlalchemy

ROOT = Path(__file__).resolve().parents[2]


def test_the_supported_range_is_the_one_the_package_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [sqlalchemy] = [
        re.sub(r"\[.*?\]", "", requirement)
        for requirement in declared
        if requirement.startswith("sqlalchemy")
    ]
    assert sqlalchemy == f"sqlalchemy{poolscope.SUPPORTED_SQLALCHEMY}"


@pytest.mark.parametrize("version", ["2.0.50", "2.0.58", "2.1.0", "2.1.0b2", "2.1.9"])
def test_supported_versions_pass(version: str) -> None:
    check_sqlalchemy(version)


@pytest.mark.parametrize("version", ["1.3.24", "1.4.54", "2.0.0", "2.0.49", "2.2.0", "3.0.0"])
def test_versions_outside_the_range_are_refused_by_name(version: str) -> None:
    with pytest.raises(poolscope.PoolscopeError) as raised:
        check_sqlalchemy(version)
    assert str(raised.value) == (
        "poolscope supports SQLAlchemy >=2.0.50,<2.2 (2.0.50 and later 2.0 releases, and 2.1);"
        f" this environment has SQLAlchemy {version}: pip install 'sqlalchemy>=2.0.50,<2.2'"
    )


@pytest.mark.process
@pytest.mark.slow
def test_import_on_sqlalchemy_1_4_is_one_clear_error(tmp_path: Path) -> None:
    # A real SQLAlchemy 1.4, ahead of the installed one on the path.
    target = tmp_path / "sqlalchemy-1.4"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--target",
            str(target),
            "sqlalchemy==1.4.54",
        ],
        check=True,
        timeout=300,
    )
    code = "import sqlalchemy; print(sqlalchemy.__version__, flush=True)\nimport poolscope\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])},
        timeout=120,
    )
    assert result.stdout == "1.4.54\n"
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == (
        "poolscope._errors.PoolscopeError: poolscope supports SQLAlchemy >=2.0.50,<2.2 (2.0.50 "
        "and later 2.0 releases, and 2.1); this environment has SQLAlchemy 1.4.54: "
        "pip install 'sqlalchemy>=2.0.50,<2.2'"
    )
