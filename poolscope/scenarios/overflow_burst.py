"""Overflow burst: 15 at once on a pool of 5 + overflow 10; overflow hits 10, then drains to 0."""

from __future__ import annotations

from collections.abc import Mapping

from locust import tag, task

from poolscope.readings import Run, ScenarioCheck
from poolscope.scenarios._scenario import Scenario, Variant, verdict
from poolscope.scenarios._waves import WaveUser

POOL_SIZE, MAX_OVERFLOW = 5, 10
HOLD_SECONDS = 2.0
BURST_SECONDS = 5.0  # a burst holds 2 s, then 3 s of quiet in which overflow drains


class OverflowBurstUser(WaveUser):
    """All users ask at once, hold their connection, then stay quiet until the next burst."""

    wave_seconds = BURST_SECONDS

    @tag("overflow-burst")
    @task
    def hold(self) -> None:
        self.client.get(f"/hold?seconds={HOLD_SECONDS}", name="/hold")


def check(runs: Mapping[str, Run]) -> ScenarioCheck:
    run = runs.get("default")
    if run is None or run.pool is None:
        return verdict(SCENARIO.name, [(False, "no pool data recorded")])
    overflow = run.configuration.max_overflow
    peak = next((i for i, s in enumerate(run.samples) if s.overflow >= overflow), None)
    drained = peak is not None and any(s.overflow == 0 for s in run.samples[peak:])
    return verdict(
        SCENARIO.name,
        [
            (
                run.pool.max_overflow == overflow,
                f"overflow peaked at {run.pool.max_overflow} (max_overflow {overflow})",
            ),
            (drained, "overflow fell back to 0 after the peak"),
            (run.pool.final_overflow == 0, f"overflow at the end: {run.pool.final_overflow}"),
            (run.pool.timeouts == 0, f"{run.pool.timeouts} pool timeouts"),
        ],
    )


SCENARIO = Scenario(
    name="overflow-burst",
    summary="a burst of 15 on pool 5 + overflow 10: overflow reaches 10, then falls back to 0",
    settings={"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW, "pool_timeout": 30},
    users=POOL_SIZE + MAX_OVERFLOW,
    spawn_rate=100,
    variants=(
        Variant(
            name="default",
            description=f"bursts of 15 x /hold?seconds={HOLD_SECONDS} every {BURST_SECONDS} s",
            user_classes=(OverflowBurstUser,),
        ),
    ),
    check=check,
    probes=("GET /hold?seconds=0",),
)
