"""The dashboard on a shared Prometheus: two services (jobs) with a pool of the same name
stay apart in every single-stat panel, evaluated by promtool's own PromQL engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from poolscope import metrics as _names
from tests.support.dashboards import load_dashboard, panels, substitute

STEP = "15s"
EVAL_TIME = "10m"
# Two services, each with a pool called "main": quiet "a" and busy "b".
SERVICES = {
    "a": {"used": 3, "max": 10, "pending": 1, "leaked": 0, "timeouts": "5x40", "pools": "1x40"},
    "b": {"used": 8, "max": 10, "pending": 4, "leaked": 2, "timeouts": "0+1x40", "pools": "1+1x40"},
}
# What each stat panel must show per service: never the two added up.
EXPECTED = {
    "Pool utilisation": {"a": 0.3, "b": 0.8},
    "Pending requests": {"a": 1, "b": 4},
    # a: every wait at most 0.1 s; b: every wait between 0.1 and 1 s (linear within).
    "Checkout wait p95": {"a": 0.095, "b": 0.955},
    # b's counters rise by one a scrape (15 s): 20 in 5 minutes, 4 a minute.
    "Checkout timeouts (5 min)": {"a": 0, "b": 20},
    "Leaked connections": {"a": 0, "b": 2},
    "Pools created per minute": {"a": 0, "b": 4},
}


GROUPINGS = ("sum by (job, pool)", "max by (job, pool)", "sum by (le, job, pool)")


def series(metric: str, values: str | int, job: str, **labels: str) -> dict[str, str]:
    """One input series of ``job``'s pool "main"; a number stays constant."""
    every = {"job": job, "instance": f"{job}:8000", "pool": "main", **labels}
    rendered = ", ".join(f'{key}="{value}"' for key, value in every.items())
    return {
        "series": f"{metric}{{{rendered}}}",
        "values": f"{values}x40" if isinstance(values, int) else values,
    }


def input_series() -> list[dict[str, str]]:
    found = []
    wait = f"{_names.CONNECTION_WAIT_TIME}_bucket"
    for job, service in SERVICES.items():
        found += [
            series(_names.CONNECTION_COUNT, service["used"], job, state="used"),
            series(_names.CONNECTION_MAX, service["max"], job),
            series(_names.CONNECTION_IDLE_MAX, service["max"], job),
            series(_names.CONNECTION_PENDING_REQUESTS, service["pending"], job),
            series(_names.POOL_LEAKED_CONNECTIONS, service["leaked"], job),
            series(f"{_names.CONNECTION_TIMEOUTS}_total", service["timeouts"], job),
            series(f"{_names.POOLS_CREATED}_total", service["pools"], job),
            series(wait, "0+10x40" if job == "a" else "0x40", job, le="0.1"),
            series(wait, "0+10x40", job, le="1.0"),
            series(wait, "0+10x40", job, le="+Inf"),
        ]
    return found


def stat_panels() -> dict[str, Any]:
    return {panel["title"]: panel for panel in panels(load_dashboard()) if panel["type"] == "stat"}


def test_every_single_stat_keeps_jobs_and_pools_apart() -> None:
    found = stat_panels()
    assert set(found) == set(EXPECTED)
    for title, panel in found.items():
        (target,) = panel["targets"]
        assert any(grouping in target["expr"] for grouping in GROUPINGS), title
        assert "{{job}}" in target["legendFormat"], title


@pytest.mark.external
def test_two_jobs_with_same_named_pools_evaluate_apart(tmp_path: Path) -> None:
    tests = []
    for title, panel in stat_panels().items():
        (target,) = panel["targets"]
        tests.append(
            {
                "expr": substitute(target["expr"], rate_interval="1m"),
                "eval_time": EVAL_TIME,
                "exp_samples": [
                    {"labels": f'{{job="{job}", pool="main"}}', "value": value}
                    for job, value in EXPECTED[title].items()
                ],
            }
        )
    unit_tests = {
        "rule_files": [],
        "evaluation_interval": STEP,
        "tests": [{"interval": STEP, "input_series": input_series(), "promql_expr_test": tests}],
    }
    path = tmp_path / "stats_test.yml"
    path.write_text(yaml.safe_dump(unit_tests, sort_keys=False))
    executable = shutil.which("promtool")
    assert executable, "promtool is missing: apt-get install prometheus (.ci/run does)"
    result = subprocess.run(
        [executable, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
