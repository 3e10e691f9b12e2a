"""Steady: fixed users on 50 ms holds, no wait time; throughput = min(pool, users) / 0.05 s."""

from __future__ import annotations

from collections.abc import Mapping

from locust import FastHttpUser, constant, tag, task

from poolscope.readings import Run, ScenarioCheck
from poolscope.scenarios._scenario import Scenario, Variant, verdict

HOLD_SECONDS = 0.05
POOL_SIZE = 4
USERS = 8
# Each request costs a little more than the hold (HTTP, the query's round trip), and a
# loaded machine adds more: a rate well below the ideal is still "as the pool allows".
RATE_FLOOR = 0.7


class SteadyUser(FastHttpUser):
    """Asks again as soon as it is answered: the pool alone sets the pace."""

    wait_time = constant(0)

    @tag("steady")
    @task
    def hold(self) -> None:
        self.client.get(f"/hold?seconds={HOLD_SECONDS}", name="/hold")


def ideal_rate(pool_size: int, users: int) -> float:
    """Requests per second when every busy connection holds for exactly HOLD_SECONDS."""
    return min(pool_size, users) / HOLD_SECONDS


def check(runs: Mapping[str, Run]) -> ScenarioCheck:
    run = runs.get("default")
    if run is None or run.pool is None or run.locust is None:
        return verdict(SCENARIO.name, [(False, "no pool or Locust data recorded")])
    configuration, pool, locust = run.configuration, run.pool, run.locust
    ideal = ideal_rate(configuration.pool_size, configuration.users)
    mean_use = pool.use.sum / pool.use.count if pool.use.count else 0.0
    return verdict(
        SCENARIO.name,
        [
            (
                RATE_FLOOR * ideal <= locust.requests_per_second <= 1.05 * ideal,
                f"{locust.requests_per_second:.1f} requests/s, at most {ideal:.0f}/s "
                f"(min({configuration.pool_size} connections, {configuration.users} users) "
                f"/ {HOLD_SECONDS} s)",
            ),
            (
                HOLD_SECONDS <= mean_use <= 2 * HOLD_SECONDS,
                f"connections held {mean_use * 1000:.1f} ms on average (hold {HOLD_SECONDS} s)",
            ),
            (locust.failures == 0, f"{locust.failures} failed requests"),
        ],
    )


SCENARIO = Scenario(
    name="steady",
    summary="users with no wait time on 50 ms holds: throughput = min(pool, users) / 0.05 s",
    settings={"pool_size": POOL_SIZE, "max_overflow": 0, "pool_timeout": 30},
    users=USERS,
    spawn_rate=100,
    variants=(Variant(name="default", description="steady", user_classes=(SteadyUser,)),),
    check=check,
    probes=("GET /hold?seconds=0",),
)
