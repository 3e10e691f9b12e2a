"""Session leak: sessions never closed hold their connections until the pool times out."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.request import Request, urlopen

from locust import FastHttpUser, between, events, tag, task

from poolscope.readings import Run, ScenarioCheck
from poolscope.scenarios._scenario import Scenario, Variant, verdict


class FixedSessionUser(FastHttpUser):
    """Sessions opened per request and closed in ``finally``: the pool never runs dry."""

    wait_time = between(0.1, 0.3)

    @tag("session-leak")
    @task
    def items(self) -> None:
        self.client.get("/items")


class LeakySessionUser(FastHttpUser):
    """Now and then a request that never closes its session; the rest need the pool."""

    wait_time = between(0.1, 0.3)

    @tag("session-leak")
    @task(3)
    def items(self) -> None:
        self.client.get("/items")

    @tag("session-leak")
    @task(1)
    def leak(self) -> None:
        self.client.get("/antipatterns/leak")


@events.test_stop.add_listener
def release_leaks(environment: Any, **_kwargs: Any) -> None:
    """Give the service its connections back, so the next test starts clean."""
    if LeakySessionUser in (environment.user_classes or []) and environment.host:
        release = Request(f"{environment.host}/antipatterns/leak/release", method="POST")
        with contextlib.suppress(OSError), urlopen(release, timeout=10):
            pass


def check(runs: Mapping[str, Run]) -> ScenarioCheck:
    findings: list[tuple[bool, str]] = []
    leaky, fixed = runs.get("leaky"), runs.get("fixed")
    if leaky is not None and (pool := leaky.pool) is not None:
        limit = leaky.configuration.pool_size + leaky.configuration.max_overflow
        used = f"leaky: {pool.max_used} of {limit} used ({pool.leaks} leaks reported)"
        findings.append((pool.max_used >= limit, used))
        findings.append((pool.timeouts > 0, f"leaky: {pool.timeouts} pool timeouts"))
        routes = sorted({leak.route or "?" for leak in pool.leak_reports})
        named = bool(routes) and all(leak.borrower.strip() for leak in pool.leak_reports)
        findings.append((named, f"leaky: leaks reported by route {', '.join(routes) or '-'}"))
    if fixed is not None and (pool := fixed.pool) is not None:
        findings.append((pool.timeouts == 0, f"fixed: {pool.timeouts} pool timeouts"))
        findings.append((pool.leaks == 0, f"fixed: {pool.leaks} leaks reported"))
    return verdict(SCENARIO.name, findings or [(False, "no run with pool data")])


SCENARIO = Scenario(
    name="session-leak",
    summary="sessions never closed: used connections climb to the max, then timeouts",
    settings={"pool_size": 5, "max_overflow": 0, "pool_timeout": 2, "leak_threshold": 1},
    users=4,
    spawn_rate=4,
    variants=(
        Variant(name="fixed", description="GET /items only", user_classes=(FixedSessionUser,)),
        Variant(name="leaky", description="1 in 4 leaks", user_classes=(LeakySessionUser,)),
    ),
    check=check,
    probes=("GET /items?limit=1", "POST /antipatterns/leak/release"),
)
