"""Reading poolscope's series back from a registry, for the instrumentation tests."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from poolscope import metrics as names


def sample(registry: CollectorRegistry, name: str, pool: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {names.POOL_LABEL: pool, **labels})


def poolscope_series(registry: CollectorRegistry) -> list[str]:
    exposed = names.exposed_names()
    return [s.name for m in registry.collect() for s in m.samples if s.name in exposed]
