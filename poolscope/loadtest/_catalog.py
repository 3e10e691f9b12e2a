"""The scenarios, as poolscope learns them: from ``python -P -m poolscope.scenarios`` in a
subprocess.

The scenario modules import Locust, which gevent-patches whatever process imports it;
asking a subprocess keeps Locust out of poolscope's own process. ``-P`` keeps the current
directory off ``sys.path``: a folder of the user's that holds a package or module named
like one of poolscope's is never run in its place.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolscope._errors import PoolscopeError
from poolscope.readings import Run, ScenarioCheck

__all__ = [
    "ScenarioInfo",
    "Setting",
    "VariantInfo",
    "check_runs",
    "find_scenario",
    "incomplete_check",
    "list_scenarios",
    "serve_flags",
]

Setting = int | float | str | None


def serve_flags(settings: Mapping[str, Setting]) -> list[str]:
    """The ``poolscope serve`` flags for a scenario's settings, which are named like them."""
    flags: list[str] = []
    for key, value in settings.items():
        if value is not None:
            flags += [f"--{key.replace('_', '-')}", str(value)]
    return flags


@dataclass(frozen=True, kw_only=True)
class VariantInfo:
    name: str
    description: str
    user_classes: tuple[str, ...]
    settings: Mapping[str, Setting]


@dataclass(frozen=True, kw_only=True)
class ScenarioInfo:
    name: str
    summary: str
    locustfile: Path
    users: int
    spawn_rate: float
    settings: Mapping[str, Setting]
    variants: tuple[VariantInfo, ...]
    # Requests ("GET /hold?seconds=0") that show a target serves the routes it loads.
    probes: tuple[str, ...] = ()

    def settings_for(self, variant: VariantInfo) -> dict[str, Setting]:
        return {**self.settings, **variant.settings}

    def variant(self, name: str) -> VariantInfo:
        for variant in self.variants:
            if variant.name == name:
                return variant
        names = ", ".join(variant.name for variant in self.variants)
        raise PoolscopeError(f"scenario {self.name} has no variant {name!r}; it has: {names}")


def _scenarios_command(*args: str) -> str:
    try:
        result = subprocess.run(
            [sys.executable, "-P", "-m", "poolscope.scenarios", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PoolscopeError(
            "`python -m poolscope.scenarios` did not answer within 120 s"
        ) from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {result.returncode}"
        raise PoolscopeError(f"`python -m poolscope.scenarios {args[0]}` failed: {detail}")
    return result.stdout


def _variant(raw: Mapping[str, Any]) -> VariantInfo:
    return VariantInfo(
        name=raw["name"],
        description=raw["description"],
        user_classes=tuple(raw["user_classes"]),
        settings=dict(raw["settings"]),
    )


def list_scenarios() -> list[ScenarioInfo]:
    raw: list[dict[str, Any]] = json.loads(_scenarios_command("describe"))
    return [
        ScenarioInfo(
            name=item["name"],
            summary=item["summary"],
            locustfile=Path(item["locustfile"]),
            users=int(item["users"]),
            spawn_rate=float(item["spawn_rate"]),
            settings=dict(item["settings"]),
            variants=tuple(_variant(variant) for variant in item["variants"]),
            probes=tuple(item.get("probes", ())),
        )
        for item in raw
    ]


def find_scenario(name: str) -> ScenarioInfo:
    scenarios = list_scenarios()
    for scenario in scenarios:
        if scenario.name == name:
            return scenario
    names = ", ".join(scenario.name for scenario in scenarios)
    raise PoolscopeError(f"no scenario named {name!r}; choose one of: {names}")


def check_runs(scenario: str, run_files: Sequence[Path]) -> ScenarioCheck:
    """The scenario's own check over these run files (one per variant)."""
    output = _scenarios_command("check", scenario, *map(str, run_files))
    return ScenarioCheck.model_validate_json(output)


def incomplete_check(runs: Sequence[Run], missing: Sequence[str]) -> ScenarioCheck:
    """The check of a scenario whose runs did not all finish: never passed, and it says
    what could not be judged (the scenario's own check needs every variant, complete)."""
    details = [
        f"{run.variant}: incomplete ({run.incomplete_reason or 'no reason recorded'}); "
        "its figures cover only part of the run"
        for run in runs
        if not run.complete
    ]
    details += [f"{name}: not played" for name in missing]
    unjudged = [run.variant for run in runs if not run.complete] + list(missing)
    return ScenarioCheck(
        passed=False,
        verdict=f"not judged: {', '.join(unjudged)} did not finish",
        details=details,
    )
