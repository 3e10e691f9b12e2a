"""Pool saturation: 11 users on a pool of 10; ten checkouts wait ~0, the 11th waits ~1 s."""

from __future__ import annotations

from collections.abc import Mapping

from locust import tag, task

from poolscope.readings import Run, ScenarioCheck, count_above
from poolscope.scenarios._scenario import Scenario, Variant, verdict
from poolscope.scenarios._waves import WaveUser

POOL_SIZE = 10
USERS = POOL_SIZE + 1
HOLD_SECONDS = 1.0
WAVE_SECONDS = 3.0  # the 11th is served after HOLD_SECONDS, done after twice that
LONG_WAIT_SECONDS = 0.5  # a wait this long can only be queueing behind a held connection


class PoolSaturationUser(WaveUser):
    """Each wave, all 11 users ask at once for a connection held HOLD_SECONDS."""

    wave_seconds = WAVE_SECONDS

    @tag("pool-saturation")
    @task
    def hold(self) -> None:
        self.client.get(f"/hold?seconds={HOLD_SECONDS}", name="/hold")


def check(runs: Mapping[str, Run]) -> ScenarioCheck:
    run = runs.get("default")
    if run is None or run.pool is None:
        return verdict(SCENARIO.name, [(False, "no pool data recorded")])
    pool = run.pool
    long_waits = count_above(pool.wait_histogram, LONG_WAIT_SECONDS)
    users, pool_size = run.configuration.users, run.configuration.pool_size
    waiting_per_wave = max(1, users - pool_size)
    # The run's end cuts its last wave short: Locust stops its users, the service cancels
    # their queries, and that wave's queued checkout waits less, or not at all. Waves whose
    # every request was answered must show their queued checkouts; a cut one may.
    answered = run.locust.requests if run.locust is not None else pool.checkouts
    whole_waves = answered // users
    begun_waves = -(-pool.checkouts // users)
    expected = range(whole_waves * waiting_per_wave, begun_waves * waiting_per_wave + 1)
    mean_long = (pool.wait.sum / long_waits) if long_waits else 0.0
    return verdict(
        SCENARIO.name,
        [
            (
                whole_waves >= 1,
                f"{pool.checkouts} checkouts in {begun_waves} wave(s) of {users}, "
                f"{whole_waves} answered in full",
            ),
            (
                long_waits in expected,
                f"{long_waits} long wait(s) (> {LONG_WAIT_SECONDS} s), "
                f"{waiting_per_wave} expected per whole wave",
            ),
            (
                0.5 * HOLD_SECONDS <= mean_long <= 2.5 * HOLD_SECONDS,
                f"waits total {pool.wait.sum:.2f} s, ~{mean_long:.2f} s per long wait "
                f"(hold {HOLD_SECONDS} s)",
            ),
            (pool.max_pending >= 1, f"pending requests reached {pool.max_pending}"),
            (pool.timeouts == 0, f"{pool.timeouts} pool timeouts"),
        ],
    )


SCENARIO = Scenario(
    name="pool-saturation",
    summary="11 users on a pool of 10: ten checkouts wait ~0, the 11th waits ~1 s",
    settings={"pool_size": POOL_SIZE, "max_overflow": 0, "pool_timeout": 30},
    users=USERS,
    spawn_rate=100,
    variants=(Variant(name="default", description="waves", user_classes=(PoolSaturationUser,)),),
    check=check,
    probes=("GET /hold?seconds=0",),
)
