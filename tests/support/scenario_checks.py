"""The scenarios' own checks on run files, evaluated as `poolscope run` evaluates them: in a
subprocess, because the scenario modules import Locust, which must never be imported into
the test process (it gevent-patches whatever imports it). Recorded runs: tests/data/runs."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolscope.loadtest import Run, ScenarioCheck, load_run, write_run

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"
# Where the checks live: the one name to change if the scenarios move.
SCENARIOS_PACKAGE = "poolscope.scenarios"

_EVALUATE = f"""
import json, sys
from pathlib import Path
from poolscope.loadtest import load_run
from {SCENARIOS_PACKAGE} import load
answers = []
for case in json.load(sys.stdin):
    runs = {{variant: load_run(Path(file)) for variant, file in case["files"].items()}}
    answers.append(load(case["scenario"]).check(runs).model_dump(mode="json"))
print(json.dumps(answers))
"""


def recorded(scenario: str) -> dict[str, Run]:
    """The recorded runs of ``scenario``, by variant."""
    return {run.variant: run for run in map(load_run, sorted((RUNS / scenario).glob("*.json")))}


Edit = Callable[[dict[str, Any]], None]


def edited(run: Run, edit: Edit) -> Run:
    """``run`` with its figures changed by ``edit``, which changes the run file's JSON."""
    data = json.loads(run.to_json())
    edit(data)
    return Run.model_validate(data)


@dataclass(frozen=True)
class Case:
    """A scenario's check on these runs, by the variant each stands for."""

    scenario: str
    runs: Mapping[str, Run]


def evaluate(cases: Sequence[Case]) -> list[ScenarioCheck]:
    """Each case's scenario check on its runs, all in one subprocess."""
    with tempfile.TemporaryDirectory(prefix="poolscope-checks-") as directory:
        requests = []
        for number, case in enumerate(cases):
            files = {
                variant: str(write_run(run, Path(directory) / f"{number}-{variant}.json"))
                for variant, run in case.runs.items()
            }
            requests.append({"scenario": case.scenario, "files": files})
        result = subprocess.run(
            [sys.executable, "-c", _EVALUATE],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    return [ScenarioCheck.model_validate(answer) for answer in json.loads(result.stdout)]
