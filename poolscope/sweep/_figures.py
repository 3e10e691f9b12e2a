"""A sweep step's figures, read from its run file: what the recommendation is made from.

The checkout rate and the mean of the "used" gauge are taken over the same window: the
samples that lie wholly inside the load (after the first checkout was counted, before
the last one), so Locust's start-up and the settle phase after the load dilute neither.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from poolscope.readings import PoolSample, Run, held_idle_cause, mostly_held_idle
from poolscope.sweep._model import Step

__all__ = ["load_window", "step_from_run"]


def load_window(samples: Sequence[PoolSample]) -> list[PoolSample]:
    """The samples taken while checkouts kept coming: from the first sample that counted
    any, up to the one before the last sample that counted more."""
    first = next((i for i, sample in enumerate(samples) if sample.checkouts > 0), None)
    if first is None:
        return []
    last = first
    for i in range(first + 1, len(samples)):
        if samples[i].checkouts > samples[i - 1].checkouts:
            last = i
    # The interval that ends at ``last`` may hold the load's end: leave it out.
    return list(samples[first:last])


def _rate_and_mean_used(samples: Sequence[PoolSample]) -> tuple[float | None, float | None]:
    window = load_window(samples)
    if len(window) < 2 or window[-1].t <= window[0].t:
        return None, None
    rate = (window[-1].checkouts - window[0].checkouts) / (window[-1].t - window[0].t)
    # Time-weighted: each sample's gauge holds until the next one.
    weighted = sum(a.used * (b.t - a.t) for a, b in itertools.pairwise(window))
    return rate, weighted / (window[-1].t - window[0].t)


def step_from_run(run: Run, run_file: str) -> Step:
    configuration, pool, locust = run.configuration, run.pool, run.locust
    # After a warm-up only: the run's other figures cover that time too.
    rate, mean_used = _rate_and_mean_used(run.samples_after_warmup())
    return Step(
        pool_size=configuration.pool_size,
        users=configuration.users,
        run_file=run_file,
        complete=run.complete,
        incomplete_reason=run.incomplete_reason,
        requests=locust.requests if locust else 0,
        failures=locust.failures if locust else 0,
        throughput=locust.requests_per_second if locust else 0.0,
        latency_p50_ms=locust.latency_ms.p50 if locust else None,
        latency_p95_ms=locust.latency_ms.p95 if locust else None,
        wait_p50=pool.wait.p50 if pool else None,
        wait_p95=pool.wait.p95 if pool else None,
        checkouts=pool.checkouts if pool else 0,
        checkout_rate=rate,
        mean_use=pool.use.sum / pool.use.count if pool and pool.use.count else None,
        mean_used=mean_used,
        max_used=pool.max_used if pool else 0,
        max_pending=pool.max_pending if pool else 0,
        pool_limit=configuration.pool_size + configuration.max_overflow,
        timeouts=pool.timeouts if pool else 0,
        max_busy_threads=pool.max_threads_busy if pool else None,
        thread_limit=pool.thread_limit if pool else None,
        busy_share=pool.busy_share if pool else None,
        held_idle=held_idle_cause(pool),
        mostly_held_idle=mostly_held_idle(pool),
        routes=list(pool.routes) if pool else [],
    )
