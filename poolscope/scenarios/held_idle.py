"""Held idle: a session open across a 0.5 s outside call holds the pool idle; closed
before the call, the same pool serves several times the requests."""

from __future__ import annotations

from collections.abc import Mapping

from locust import FastHttpUser, constant, tag, task

from poolscope.readings import Run, ScenarioCheck, format_share, held_idle_route
from poolscope.scenarios._scenario import Scenario, Variant, verdict

POOL_SIZE, USERS, OUTSIDE_SECONDS = 4, 20, 0.5
MAX_BUSY_SHARE = 0.05  # across-call: in statements under this share of each hold
# released vs across-call's requests per second, same pool; ideal USERS / POOL_SIZE = 5x.
MIN_SPEEDUP = 3.0
ACROSS, RELEASED = "/held-idle/across-call", "/held-idle/released"


class AcrossCallUser(FastHttpUser):
    """Asks again at once; each request keeps its session open across the outside call."""

    wait_time, path = constant(0), ACROSS

    @tag("held-idle")
    @task
    def call(self) -> None:
        self.client.get(f"{self.path}?seconds={OUTSIDE_SECONDS}", name=self.path)


class ReleasedUser(AcrossCallUser):
    """The same work; each request closes its session before the outside call."""

    path = RELEASED


def check(runs: Mapping[str, Run]) -> ScenarioCheck:
    across, released = runs.get("across-call"), runs.get("released")
    findings: list[tuple[bool, str]] = []
    named = held_idle_route(across.pool if across else None)
    if across is not None and across.pool is not None:
        pool, size = across.pool, across.configuration.pool_size
        share = next((r.busy_share for r in pool.routes if r.route == ACROSS), None)
        busy = f"in statements {format_share(share)} of each hold"
        under = f"(under {format_share(MAX_BUSY_SHARE)} expected)"
        held_by = named.route if named else "none"
        findings += [
            (pool.max_used >= size, f"across-call: {pool.max_used} of {size} connections used"),
            (share is not None and share < MAX_BUSY_SHARE, f"across-call: {busy} {under}"),
            (
                named is not None and named.route == ACROSS,
                f"route named as holding idle: {held_by}",
            ),
        ]
    if across and released and across.locust and released.locust:
        slow, fast = across.locust.requests_per_second, released.locust.requests_per_second
        ratio, size = fast / slow if slow else float("inf"), released.configuration.pool_size
        same = across.configuration.pool_size == size
        served = f"released served {fast:.1f} requests/s, across-call {slow:.1f}"
        speedup = f"(x{ratio:.1f}, at least x{MIN_SPEEDUP:g} expected) on a pool of {size}"
        findings.append((same and slow > 0 and ratio >= MIN_SPEEDUP, f"{served} {speedup}"))
        failures = across.locust.failures + released.locust.failures
        findings.append((failures == 0, f"{failures} failed requests"))
    cause = f"{named.route} holds its connections idle" if named else None
    return verdict(SCENARIO.name, findings or [(False, "no run with pool data")], cause=cause)


SCENARIO = Scenario(
    name="held-idle",
    summary="a session open across a 0.5 s outside call vs closed before it, same pool",
    settings={"pool_size": POOL_SIZE, "max_overflow": 0, "pool_timeout": 30},
    users=USERS,
    spawn_rate=USERS,
    variants=(
        Variant(name="across-call", description="held across call", user_classes=(AcrossCallUser,)),
        Variant(name="released", description="closed before call", user_classes=(ReleasedUser,)),
    ),
    check=check,
    probes=("GET /held-idle/released?seconds=0",),
)
