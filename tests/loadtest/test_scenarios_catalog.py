"""The scenario catalog as poolscope sees it, through `python -m poolscope.scenarios` (no Locust
imported into poolscope's process), and durations as `poolscope run` reads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from poolscope._errors import PoolscopeError
from poolscope.cli.run import parse_duration
from poolscope.loadtest import write_run
from poolscope.loadtest._catalog import check_runs, find_scenario, list_scenarios
from poolscope.loadtest._locust_result import LocustFiles, read_locust_totals
from poolscope.service import ServiceSettings, create_app
from tests.support.in_process import started
from tests.support.runs import minimal_run

SCENARIOS = {
    "pool-saturation",
    "engine-per-request",
    "session-leak",
    "overflow-burst",
    "depends-deadlock",
    "steady",
    "held-idle",
}


def test_every_scenario_is_listed_with_its_variants() -> None:
    scenarios = {scenario.name: scenario for scenario in list_scenarios()}
    assert set(scenarios) == SCENARIOS
    assert [v.name for v in scenarios["engine-per-request"].variants] == ["global", "per-request"]
    assert [v.name for v in scenarios["session-leak"].variants] == ["fixed", "leaky"]
    saturation = scenarios["pool-saturation"]
    assert saturation.users == 11
    assert saturation.settings["pool_size"] == 10
    for scenario in scenarios.values():
        lines = scenario.locustfile.read_text().splitlines()
        assert lines[0].startswith('"""'), scenario.name
        assert 20 <= len(lines) <= 85, scenario.name


@pytest.mark.process
def test_poolscope_scenarios_prints_one_line_each() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "poolscope", "scenarios"], capture_output=True, text=True, check=True
    )
    lines = result.stdout.strip().splitlines()
    assert {line.split()[0] for line in lines} == SCENARIOS
    assert len(lines) == len(SCENARIOS)
    (leak,) = [line for line in lines if line.startswith("session-leak")]
    assert "serve --pool-size 5 --max-overflow 0 --pool-timeout 2 --leak-threshold 1" in leak


def test_unknown_scenario_and_variant_are_one_line_errors() -> None:
    with pytest.raises(PoolscopeError, match="no scenario named 'nope'; choose one of"):
        find_scenario("nope")
    with pytest.raises(PoolscopeError, match="has no variant 'x'; it has: fixed, leaky"):
        find_scenario("session-leak").variant("x")


def test_check_of_a_run_without_pool_data_fails_with_a_reason(tmp_path: Path) -> None:
    path = write_run(minimal_run(), tmp_path / "run.json")
    check = check_runs("pool-saturation", [path])
    assert not check.passed
    assert "no pool data" in check.verdict


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("2m", 120), ("1m30s", 90), ("45", 45), ("1h", 3600)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0s", "5x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(PoolscopeError):
        parse_duration(text)


def test_locust_json_is_merged_into_totals(tmp_path: Path) -> None:
    files = LocustFiles(directory=tmp_path)
    entry = {
        "method": "GET",
        "start_time": 100.0,
        "last_request_timestamp": 110.0,
        "num_none_requests": 0,
        "total_content_length": 0,
        "num_reqs_per_sec": {},
        "num_fail_per_sec": {},
    }
    files.json_path.write_text(
        json.dumps(
            [
                {
                    **entry,
                    "name": "/a",
                    "num_requests": 3,
                    "num_failures": 1,
                    "total_response_time": 60,
                    "min_response_time": 10,
                    "max_response_time": 30,
                    "response_times": {"10": 1, "20": 1, "30": 1},
                },
                {
                    **entry,
                    "name": "/b",
                    "num_requests": 1,
                    "num_failures": 0,
                    "total_response_time": 100,
                    "min_response_time": 100,
                    "max_response_time": 100,
                    "response_times": {"100": 1},
                },
            ]
        )
    )
    totals = read_locust_totals(files, duration_seconds=10)
    assert totals is not None
    assert (totals.requests, totals.failures) == (4, 1)
    assert totals.response_times == {"10": 1, "20": 1, "30": 1, "100": 1}
    assert totals.latency_ms.max == 100
    assert totals.latency_ms.mean == 40
    assert totals.requests_per_second == pytest.approx(0.4)
    assert [e.name for e in totals.endpoints] == ["/a", "/b"]
    assert totals.endpoints[0].response_times == {"10": 1, "20": 1, "30": 1}


async def test_every_scenarios_probes_pass_on_the_sample_service(database_url: str) -> None:
    """What `poolscope run SCENARIO --host` sends first: harmless, and a 2xx from the
    sample service, so only a target without the scenario's routes is refused."""
    app = create_app(ServiceSettings(database_url=SecretStr(database_url), pool_size=2))
    async with started(app) as client:
        for scenario in list_scenarios():
            assert scenario.probes, scenario.name
            for probe in scenario.probes:
                method, _, path = probe.partition(" ")
                answer = await client.request(method, path)
                assert 200 <= answer.status_code < 300, (scenario.name, probe, answer.text)
            pool = (await client.get("/pool")).json()
            assert pool["state"]["used"] == 0, (scenario.name, pool)
            assert pool["kept_leaked_sessions"] == 0, scenario.name
