"""The FastAPI Depends deadlock: a sync yield dependency stalls the service; its fix does not.

24 users, 8 threads, 5 connections: with the tutorial's sync ``yield`` dependency every thread
waits for a connection only a request without a thread can return (fastapi/fastapi#3205).
"""

from __future__ import annotations

from collections.abc import Mapping

from locust import FastHttpUser, tag, task

from poolscope.readings import Run, ScenarioCheck, starvation_cause
from poolscope.scenarios._scenario import Scenario, Variant, verdict

POOL_SIZE, THREAD_LIMIT, USERS, HOLD_SECONDS = 5, 8, 24, 0.5
# Of pool_size / HOLD_SECONDS, loose for loaded machines: depends < COLLAPSED; fixed SERVED, PACE
COLLAPSED, SERVED, PACE = 0.25, 0.4, 0.6


class DependsUser(FastHttpUser):
    """Back to back on the route whose Session comes from a sync yield dependency."""

    route = "/deadlock/depends/hold"

    @tag("depends-deadlock")
    @task
    def hold(self) -> None:
        self.client.get(f"{self.route}?seconds={HOLD_SECONDS}", name=self.route)


class FixedUser(DependsUser):
    """The same requests to the route that opens its Session in its own body."""

    route = "/deadlock/fixed/hold"


def findings_of(name: str, run: Run) -> list[tuple[bool, str]]:
    if run.pool is None or run.locust is None:
        return [(False, f"{name}: no pool or Locust data")]
    pool, failed, pool_rate = run.pool, run.locust.failures, POOL_SIZE / HOLD_SECONDS
    rate = (run.locust.requests - failed) / run.configuration.duration_seconds
    served = f"{name}: {rate:.1f} req/s served of the pool's {pool_rate:g}"
    cause, timeouts = starvation_cause(pool), f"{pool.timeouts} pool timeouts, {failed} failed"
    if name == "depends":
        return [
            (rate < COLLAPSED * pool_rate, served),
            (pool.timeouts + failed > 0, f"depends: {timeouts}"),
            (cause is not None, f"depends: {cause or 'the thread pool never starved'}"),
        ]
    checkouts = pool.checkouts / run.configuration.duration_seconds
    busy = f"fixed: threads up to {pool.max_threads_busy}/{pool.thread_limit} busy, never starved"
    return [
        (checkouts >= PACE * pool_rate, f"fixed: {checkouts:.1f} checkouts/s"),
        (rate >= SERVED * pool_rate, served),
        (pool.thread_limit is not None and cause is None, busy),
        (failed == 0, f"fixed: {timeouts}"),
    ]


def check(runs: Mapping[str, Run]) -> ScenarioCheck:
    findings = [item for name, run in sorted(runs.items()) for item in findings_of(name, run)]
    cause = starvation_cause(runs["depends"].pool) if "depends" in runs else None
    said = f"depends deadlocked: {cause}" if cause else None
    return verdict(SCENARIO.name, findings or [(False, "no run recorded")], cause=said)


SCENARIO = Scenario(
    name="depends-deadlock",
    summary="a sync yield dependency starves the thread pool; a Session in the route does not",
    settings={"pool_size": POOL_SIZE, "pool_timeout": 5, "thread_limit": THREAD_LIMIT},
    users=USERS,
    spawn_rate=USERS,
    variants=(
        Variant(name="depends", description="yield dependency", user_classes=(DependsUser,)),
        Variant(name="fixed", description="Session in the route", user_classes=(FixedUser,)),
    ),
    check=check,
    probes=("GET /deadlock/depends/hold?seconds=0", "GET /deadlock/fixed/hold?seconds=0"),
)
