"""`poolscope scenarios` and `poolscope run` in a folder of the user's that holds its own
`scenarios` package and `locustfile.py` (common names): poolscope plays its own scenarios,
from inside the installed package, and none of the user's code runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from poolscope.loadtest import load_run
from poolscope.scenarios import MODULES

COMMAND = Path(sys.executable).parent / "poolscope"
SCENARIOS = set(MODULES)  # the package knows them without importing Locust


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """A folder whose every module, imported or run, writes the marker file."""
    folder = tmp_path / "project"
    package = folder / "scenarios"
    package.mkdir(parents=True)
    marker = tmp_path / "marker"
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text(__name__)\n"
    for path in (
        package / "__init__.py",
        package / "__main__.py",
        package / "steady.py",
        package / "_scenario.py",
        folder / "locustfile.py",
    ):
        path.write_text(code + "print('[]')\n")
    return folder


def poolscope_in(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *arguments],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


@pytest.mark.process
def test_poolscope_scenarios_lists_its_own(user_folder: Path) -> None:
    result = poolscope_in(user_folder, "scenarios")
    assert result.returncode == 0, result.stderr
    assert {line.split()[0] for line in result.stdout.splitlines()} == SCENARIOS
    assert not (user_folder.parent / "marker").exists()


@pytest.mark.process
def test_poolscope_run_checks_its_own_scenario(user_folder: Path) -> None:
    # Up to the point where it would load: the scenario is found, the target refused.
    result = poolscope_in(user_folder, "run", "steady", "--host", "http://127.0.0.1:9")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "http://127.0.0.1:9" in result.stderr
    assert not (user_folder.parent / "marker").exists()


@pytest.mark.e2e
@pytest.mark.process
@pytest.mark.slow
def test_poolscope_run_plays_its_own_scenario(user_folder: Path, database_url: str) -> None:
    out = user_folder / "runs"
    result = poolscope_in(
        user_folder,
        *("run", "steady", "--duration", "8s", "--users", "2", "--out", str(out)),
        *("--database-url", database_url),
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    (path,) = out.glob("steady-*.json")
    run = load_run(path)
    assert run.scenario == "steady"
    assert run.locust is not None
    assert run.locust.requests > 0
    assert json.loads(path.read_text())["schema"] == "poolscope.run/1"
    assert not (user_folder.parent / "marker").exists()


@pytest.mark.process
def test_the_repositorys_locustfiles_offer_every_scenarios_users() -> None:
    # What Locust users run from a checkout: locust -f scenarios/pool-saturation.locustfile.py
    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "scenarios").glob("*.py"))
    assert [path.name.removesuffix(".locustfile.py") for path in files] == sorted(SCENARIOS)
    listed, together = (
        locust_list(root, ",".join(map(str, files))),
        locust_list(root, "locustfile.py"),
    )
    # One locustfile per scenario, and together the user classes locustfile.py gathers.
    assert listed == together
    assert len(listed) >= len(SCENARIOS)


def locust_list(root: Path, locustfiles: str) -> set[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "locust", "-f", locustfiles, "--list"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    return {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}
