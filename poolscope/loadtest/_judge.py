"""What a played run is judged on before ``poolscope run`` exits 0: it measured something
(completed requests, at least a minimum), and for a user's own Locust test, that few of
its requests failed and its thread pool did not starve."""

from __future__ import annotations

from poolscope.readings import Run, starvation_cause

__all__ = ["DEFAULT_MAX_FAILURE_RATE", "DEFAULT_MIN_REQUESTS", "judge_run"]

# A run needs one completed request to measure anything; --min-requests asks for more.
DEFAULT_MIN_REQUESTS = 1
# Failed requests a Locust test may have (a share of its requests) before the run fails:
# a service that answers errors is measured, but its figures are not its normal ones.
DEFAULT_MAX_FAILURE_RATE = 0.01


def judge_run(
    run: Run,
    *,
    min_requests: int = DEFAULT_MIN_REQUESTS,
    max_failure_rate: float | None = None,
    starvation: bool = False,
) -> list[str]:
    """Why ``run`` fails, one reason per problem; empty when it does not.

    ``max_failure_rate`` (a share, 0.01 for 1 %; None: not judged) and ``starvation``
    (a starved thread pool fails the run) are for a user's own Locust test: a built-in
    scenario makes requests fail and threads starve on purpose, and its check judges it.
    """
    # A locustfile's run is named by its label alone (scenario and variant alike).
    name = run.variant if run.scenario == run.variant else f"{run.scenario}/{run.variant}"
    reasons: list[str] = []
    requests = run.locust.requests if run.locust is not None else 0
    if requests == 0:
        reasons.append(
            f"{name}: no request completed in {run.configuration.duration_seconds:g} s, so "
            "nothing was measured (Locust takes a few seconds to start: give a longer "
            "--duration)"
        )
    elif requests < min_requests:
        reasons.append(
            f"{name}: {requests} completed requests, fewer than --min-requests {min_requests}"
        )
    if max_failure_rate is not None and run.locust is not None and requests:
        rate = run.locust.failures / requests
        if rate > max_failure_rate:
            reasons.append(
                f"{name}: {run.locust.failures} of {requests} requests failed "
                f"({_percent(rate)}), above --max-failure-rate {_percent(max_failure_rate)}"
            )
    if starvation:
        cause = starvation_cause(run.pool)
        if cause is not None:
            reasons.append(f"{name}: deadlock: {cause}")
    return reasons


def _percent(share: float) -> str:
    return f"{share * 100:.3g} %"
