"""Engine per request: building an engine in each request opens a connection every time."""

from __future__ import annotations

from collections.abc import Mapping

from locust import FastHttpUser, between, tag, task

from poolscope.readings import Run, ScenarioCheck
from poolscope.scenarios._scenario import Scenario, Variant, verdict


class GlobalEngineUser(FastHttpUser):
    """The right way: one global engine, its pool reused by every request."""

    wait_time = between(0.05, 0.15)

    @tag("engine-per-request")
    @task
    def items(self) -> None:
        self.client.get("/items")


class EnginePerRequestUser(FastHttpUser):
    """The anti-pattern: the same query, through an engine built and disposed per request."""

    wait_time = between(0.05, 0.15)

    @tag("engine-per-request")
    @task
    def items(self) -> None:
        # Named like the global variant's endpoint so that compare lines them up.
        self.client.get("/antipatterns/engine-per-request/items", name="/items")


def check(runs: Mapping[str, Run]) -> ScenarioCheck:
    findings: list[tuple[bool, str]] = []
    per_request, global_ = runs.get("per-request"), runs.get("global")
    if per_request and per_request.pool and per_request.locust:
        requests, pool = per_request.locust.requests, per_request.pool
        opened = f"{pool.connects} connections opened, {pool.pools_created} pools built"
        findings.append(
            (
                0 < requests <= min(pool.connects, pool.pools_created),
                f"per-request: {opened} for {requests} requests",
            )
        )
    if global_ and global_.pool and global_.locust:
        opened = f"{global_.pool.connects} connections opened"
        within = global_.pool.connects <= global_.configuration.pool_size
        findings.append((within, f"global: {opened} for {global_.locust.requests} requests"))
    pair = (per_request, global_)
    slow, fast = (run.locust.latency_ms.p50 if run and run.locust else None for run in pair)
    if slow is not None and fast is not None:  # None: no run, or no request completed
        ratio = f"x{slow / fast:.1f}" if fast else "global ~0 ms"
        findings.append(
            (slow > fast, f"median {slow:.0f} ms per-request vs {fast:.0f} ms ({ratio})")
        )
    return verdict(SCENARIO.name, findings or [(False, "no run with pool and Locust data")])


SCENARIO = Scenario(
    name="engine-per-request",
    summary="an engine built per request vs one global engine: connections, pools, latency",
    settings={"pool_size": 10, "max_overflow": 0, "pool_timeout": 30},
    users=4,
    spawn_rate=4,
    variants=(
        Variant(name="global", description="one engine", user_classes=(GlobalEngineUser,)),
        Variant(
            name="per-request",
            description="engine per request",
            user_classes=(EnginePerRequestUser,),
        ),
    ),
    check=check,
    probes=("GET /items?limit=1", "GET /antipatterns/engine-per-request/items"),
)
