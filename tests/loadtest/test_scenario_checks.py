"""Each scenario's own check on recorded run files (tests/data/runs, real `poolscope run`
output): it passes the recorded run, and fails a run edited to lack exactly one thing the
scenario must show, naming that thing. The plays themselves are tested in test_run_e2e.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from poolscope.loadtest import Run, ScenarioCheck
from tests.support.scenario_checks import RUNS, Case, Edit, edited, evaluate, recorded


def only(scenario: str, variant: str, edit: Edit) -> Mapping[str, Run]:
    """The recorded runs of ``scenario`` with ``variant``'s edited."""
    runs = recorded(scenario)
    return {**runs, variant: edited(runs[variant], edit)}


def pool(**figures: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["pool"].update(figures)

    return edit


def locust(**figures: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["locust"].update(figures)

    return edit


def both(*edits: Edit) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        for one in edits:
            one(data)

    return edit


def without_long_waits(keep: int) -> Edit:
    """Waits over 0.5 s moved to the 0 bucket but for the first ``keep`` of them."""

    def edit(data: dict[str, Any]) -> None:
        histogram, left = data["pool"]["wait_histogram"], keep
        for index, bound in enumerate(histogram["upper_bounds"]):
            if bound != "Infinity" and float(bound) <= 0.5:
                continue
            moved = histogram["counts"][index] - min(left, histogram["counts"][index])
            left -= histogram["counts"][index] - moved
            histogram["counts"][index] -= moved
            histogram["counts"][0] += moved

    return edit


def across_call_busy(data: dict[str, Any]) -> None:
    """The across-call route's holds half in statements."""
    for route in data["pool"]["routes"]:
        route["statement_seconds"] = route["held_seconds"] / 2


def overflow_never_falls(data: dict[str, Any]) -> None:
    peak = next(i for i, sample in enumerate(data["samples"]) if sample["overflow"] >= 10)
    for sample in data["samples"][peak:]:
        sample["overflow"] = 10


def renamed(run: Run, variant: str) -> Run:
    return run.model_copy(update={"variant": variant})


def depends_as_fixed() -> Mapping[str, Run]:
    runs = recorded("depends-deadlock")
    return {"depends": renamed(runs["fixed"], "depends"), "fixed": runs["fixed"]}


def fixed_as_depends() -> Mapping[str, Run]:
    runs = recorded("depends-deadlock")
    return {"depends": runs["depends"], "fixed": renamed(runs["depends"], "fixed")}


def per_request_as_fast_as_global() -> Mapping[str, Run]:
    runs = recorded("engine-per-request")
    fast = runs["global"].locust
    assert fast is not None
    latency = fast.latency_ms.model_dump()
    return only(
        "engine-per-request", "per-request", lambda data: data["locust"].update(latency_ms=latency)
    )


# id: (scenario, runs, passes, what a failing check names)
CASES: dict[str, tuple[str, Mapping[str, Run], bool, str]] = {
    "pool-saturation": ("pool-saturation", recorded("pool-saturation"), True, ""),
    "pool-saturation: a whole wave without its long wait": (
        "pool-saturation",
        only("pool-saturation", "default", without_long_waits(1)),
        False,
        "1 long wait(s)",
    ),
    "pool-saturation: the cut last wave may lack its long wait": (
        "pool-saturation",
        only("pool-saturation", "default", both(without_long_waits(1), locust(requests=21))),
        True,
        "",
    ),
    "pool-saturation: no wait at all": (
        "pool-saturation",
        only("pool-saturation", "default", without_long_waits(0)),
        False,
        "0 long wait(s)",
    ),
    "pool-saturation: waits far longer than the hold": (
        "pool-saturation",
        only("pool-saturation", "default", lambda d: d["pool"]["wait"].update(sum=12.0)),
        False,
        "waits total 12.00 s",
    ),
    "pool-saturation: nobody pending": (
        "pool-saturation",
        only("pool-saturation", "default", pool(max_pending=0)),
        False,
        "pending requests reached 0",
    ),
    "pool-saturation: a timeout": (
        "pool-saturation",
        only("pool-saturation", "default", pool(timeouts=1)),
        False,
        "1 pool timeouts",
    ),
    "overflow-burst": ("overflow-burst", recorded("overflow-burst"), True, ""),
    "overflow-burst: overflow stops short": (
        "overflow-burst",
        only("overflow-burst", "default", pool(max_overflow=9)),
        False,
        "overflow peaked at 9",
    ),
    "overflow-burst: overflow never falls back": (
        "overflow-burst",
        only("overflow-burst", "default", overflow_never_falls),
        False,
        "fell back to 0",
    ),
    "overflow-burst: overflow left at the end": (
        "overflow-burst",
        only("overflow-burst", "default", pool(final_overflow=3)),
        False,
        "overflow at the end: 3",
    ),
    "overflow-burst: a timeout": (
        "overflow-burst",
        only("overflow-burst", "default", pool(timeouts=2)),
        False,
        "2 pool timeouts",
    ),
    "steady": ("steady", recorded("steady"), True, ""),
    "steady: half the throughput": (
        "steady",
        only("steady", "default", locust(requests_per_second=40.0)),
        False,
        "40.0 requests/s",
    ),
    "steady: more than the pool can serve": (
        "steady",
        only("steady", "default", locust(requests_per_second=90.0)),
        False,
        "90.0 requests/s",
    ),
    "steady: connections held too long": (
        "steady",
        only(
            "steady",
            "default",
            lambda d: d["pool"]["use"].update(sum=d["pool"]["use"]["count"] / 5),
        ),
        False,
        "held 200.0 ms",
    ),
    "steady: a failed request": (
        "steady",
        only("steady", "default", locust(failures=1)),
        False,
        "1 failed requests",
    ),
    "held-idle": ("held-idle", recorded("held-idle"), True, ""),
    "held-idle: across-call busy in statements": (
        "held-idle",
        only("held-idle", "across-call", across_call_busy),
        False,
        "in statements 50 % of each hold",
    ),
    "held-idle: released no faster": (
        "held-idle",
        only("held-idle", "released", locust(requests_per_second=8.6)),
        False,
        "(x1.0, at least x3 expected)",
    ),
    "held-idle: the pool never full": (
        "held-idle",
        only("held-idle", "across-call", pool(max_used=2)),
        False,
        "2 of 4 connections used",
    ),
    "depends-deadlock": ("depends-deadlock", recorded("depends-deadlock"), True, ""),
    "depends-deadlock: depends does not deadlock": (
        "depends-deadlock",
        depends_as_fixed(),
        False,
        "depends: the thread pool never starved",
    ),
    "depends-deadlock: fixed deadlocks too": (
        "depends-deadlock",
        fixed_as_depends(),
        False,
        "fixed: threads up to",
    ),
    "session-leak": ("session-leak", recorded("session-leak"), True, ""),
    "session-leak: leaky never fills the pool": (
        "session-leak",
        only("session-leak", "leaky", pool(max_used=4)),
        False,
        "leaky: 4 of 5 used",
    ),
    "session-leak: leaky never times out": (
        "session-leak",
        only("session-leak", "leaky", pool(timeouts=0)),
        False,
        "leaky: 0 pool timeouts",
    ),
    "session-leak: leaks reported without a route": (
        "session-leak",
        only("session-leak", "leaky", pool(leak_reports=[])),
        False,
        "leaky: leaks reported by route -",
    ),
    "session-leak: fixed leaks": (
        "session-leak",
        only("session-leak", "fixed", pool(leaks=1)),
        False,
        "fixed: 1 leaks reported",
    ),
    "engine-per-request": ("engine-per-request", recorded("engine-per-request"), True, ""),
    "engine-per-request: per-request builds no pools": (
        "engine-per-request",
        only("engine-per-request", "per-request", pool(pools_created=0)),
        False,
        "0 pools built",
    ),
    "engine-per-request: global opens more than its pool": (
        "engine-per-request",
        only("engine-per-request", "global", pool(connects=11)),
        False,
        "global: 11 connections opened",
    ),
    "engine-per-request: per-request no slower": (
        "engine-per-request",
        per_request_as_fast_as_global(),
        False,
        "median",
    ),
}


@pytest.fixture(scope="module")
def checks() -> dict[str, ScenarioCheck]:
    """Every case's check, in one subprocess (one Locust import for all of them)."""
    cases = [Case(scenario, runs) for scenario, runs, _, _ in CASES.values()]
    return dict(zip(CASES, evaluate(cases), strict=True))


def test_every_scenario_has_a_run_its_check_passes_and_one_it_fails() -> None:
    scenarios = {scenario for scenario, *_ in CASES.values()}
    assert scenarios == {path.name for path in RUNS.iterdir()}
    for scenario in scenarios:
        outcomes = {passes for name, (s, _, passes, _) in CASES.items() if s == scenario}
        assert outcomes == {True, False}, scenario


@pytest.mark.parametrize("case", list(CASES))
def test_the_check(case: str, checks: dict[str, ScenarioCheck]) -> None:
    scenario, _, passes, named = CASES[case]
    check = checks[case]
    assert check.passed is passes, "\n".join([check.verdict, *check.details])
    if passes:
        assert check.verdict.startswith(f"{scenario}: as expected")
        assert all(detail.startswith("ok ") for detail in check.details)
    else:
        assert check.verdict.startswith(f"{scenario}: NOT as expected")
        failed = [detail for detail in check.details if detail.startswith("FAIL ")]
        assert any(named in detail for detail in failed), check.details
