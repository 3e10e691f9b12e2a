"""What ``poolscope run`` learns from a target before it plays: which pool to record and
its real settings (from its metrics), its driver and timeout (from ``GET /pool`` when it
serves poolscope's), and whether it serves the routes a built-in scenario needs."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from poolscope._errors import PoolscopeError
from poolscope.readings import (
    MAX_METRICS_BYTES,
    MAX_POOL_BYTES,
    PoolSettings,
    ScrapeError,
    get_bounded,
    pool_settings,
    shorten,
)

__all__ = [
    "RunInputError",
    "Target",
    "TargetError",
    "check_routes",
    "inspect_target",
    "metrics_url_for",
]

HOW_TO_INSTRUMENT = (
    "instrument its engine with poolscope.instrument(engine, registry=REGISTRY) and serve "
    'that registry, e.g. app.mount("/metrics", make_asgi_app()) '
    "(docs/own-service.md)"
)


class RunInputError(PoolscopeError):
    """Input ``poolscope run`` cannot play: said in one line, exit code 2."""


class TargetError(RunInputError):
    """A target that cannot be recorded as asked: no poolscope metrics, no such pool, a
    missing route."""


@dataclass(frozen=True, kw_only=True)
class Target:
    host: str
    metrics_url: str
    pool: str  # the pool recorded; the sampler reads its series only
    pool_size: int
    max_overflow: int | None  # None: no limit
    pool_timeout: float | None  # from GET /pool, when the target serves poolscope's
    driver: str | None
    leak_threshold: float | None = None  # from GET /pool too; None: off, or not told


def metrics_url_for(host: str, given: str | None = None) -> str:
    return given or f"{host.rstrip('/')}/metrics"


def _get(client: httpx.Client, url: str, seconds: float) -> str:
    try:
        status, body = get_bounded(client, url, limit=MAX_METRICS_BYTES, seconds=seconds)
    except ScrapeError as error:
        raise TargetError(str(error)) from None
    if status != 200:
        raise TargetError(f"{url} answered {status}, not 200")
    return body.decode("utf-8", errors="replace")


def _choose(settings: dict[str, PoolSettings], pool: str | None, url: str) -> PoolSettings:
    if not settings:
        raise TargetError(f"{url} exports no poolscope pool metrics; {HOW_TO_INSTRUMENT}")
    names = ", ".join(settings)
    if pool is not None:
        if pool not in settings:
            raise TargetError(f"{url} has no pool {pool!r}; it exports: {names}")
        return settings[pool]
    if len(settings) > 1:
        raise TargetError(f"{url} exports several pools ({names}); choose one with --pool NAME")
    return next(iter(settings.values()))


def _pool_answer(client: httpx.Client, host: str, pool: str, seconds: float) -> dict[str, Any]:
    """``GET /pool`` as the sample service and ``poolscope.fastapi.pool_router`` serve it,
    when it speaks for ``pool``; else empty (a target without it is recorded all the same)."""
    try:
        status, raw = get_bounded(
            client, f"{host.rstrip('/')}/pool", limit=MAX_POOL_BYTES, seconds=seconds
        )
        body = json.loads(raw) if status == 200 else None
    except (ScrapeError, ValueError, RecursionError):
        return {}
    if not isinstance(body, dict) or body.get("pool", pool) != pool:
        return {}
    return body


def _finite(value: Any) -> float | None:
    """A number a target gave, when it is one a run file can hold."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def inspect_target(
    host: str, *, metrics_url: str | None = None, pool: str | None = None, timeout: float = 5.0
) -> Target:
    """The target's pool as it exports it; a :class:`TargetError` when there is none to
    record, or several and ``pool`` names none of them. Each answer is read within
    ``timeout`` seconds, first byte to last."""
    url = metrics_url_for(host, metrics_url)
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        text = _get(client, url, timeout)
        try:
            chosen = _choose(pool_settings(text), pool, url)
        except (ValueError, ArithmeticError) as error:
            raise TargetError(
                f"{url} is not a readable Prometheus exposition ({shorten(str(error))})"
            ) from None
        answer = _pool_answer(client, host, chosen.pool, timeout)
    state = answer.get("state")
    timeout_seconds = state.get("timeout") if isinstance(state, dict) else None
    driver = answer.get("driver")
    leak_threshold = answer.get("leak_threshold")
    return Target(
        host=host,
        metrics_url=url,
        pool=chosen.pool,
        pool_size=chosen.pool_size,
        max_overflow=chosen.max_overflow,
        pool_timeout=_finite(timeout_seconds),
        driver=shorten(driver, 100) if isinstance(driver, str) else None,
        leak_threshold=_finite(leak_threshold),
    )


def check_routes(host: str, probes: Sequence[str], *, scenario: str, timeout: float = 10.0) -> None:
    """Each probe (``"GET /hold?seconds=0"``) must get a 2xx from the target; else one
    :class:`TargetError` naming the first that does not."""
    with httpx.Client(timeout=timeout) as client:
        for probe in probes:
            method, _, path = probe.partition(" ")
            url = f"{host.rstrip('/')}{path}"
            try:
                status = client.request(method, url).status_code
            except httpx.HTTPError as error:
                raise TargetError(
                    f"cannot reach {host} to check scenario {scenario}'s routes: "
                    f"{type(error).__name__}: {error}"
                ) from None
            if not 200 <= status < 300:
                raise TargetError(
                    f"{host} does not serve {method} {path.partition('?')[0]} (answered "
                    f"{status}), which scenario {scenario} needs; it loads poolscope's "
                    "sample service (poolscope serve). For your own service: "
                    "poolscope run --locustfile FILE --host URL"
                )
