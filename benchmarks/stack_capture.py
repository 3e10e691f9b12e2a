"""What each leak-detection stack capture mode costs per checkout+checkin cycle.

Runs a pooled psycopg2 engine's ``connect()``/``close()`` cycle from 40 frames deep (about
what uvicorn + Starlette + FastAPI put under an endpoint), interleaving in one process:
uninstrumented, ``poolscope.instrument()`` without a leak threshold, with a 60 s threshold
and stack_capture off / site / full, and, for reference, ``traceback.extract_stack()`` in a
bare checkout listener. Prints CPU-time medians in µs and the median per-round extra cost
over ``instrument()`` without a threshold (over uninstrumented for the reference).

    .venv/bin/python benchmarks/stack_capture.py [--database-url URL] [--rounds 15]
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import time
import traceback
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, event

import poolscope
from poolscope import url_for_driver

CYCLES = 300
DEPTH = 40


def at_depth(depth: int, work: Callable[[], float]) -> float:
    return work() if depth == 0 else at_depth(depth - 1, work)


def cycles(engine: Engine) -> float:
    """CPU µs per checkout+checkin (what other jobs on a shared machine disturb least)."""
    started = time.process_time()
    for _ in range(CYCLES):
        engine.connect().close()
    return (time.process_time() - started) / CYCLES * 1e6


def setups() -> dict[str, Callable[[Engine], object]]:
    def instrumented(threshold: float | None, mode: Any = "site") -> Callable[[Engine], object]:
        return lambda engine: poolscope.instrument(
            engine,
            pool=f"bench-{threshold}-{mode}",
            registry=CollectorRegistry(),
            leak_threshold=threshold,
            stack_capture=mode,
        )

    def extract_stack(engine: Engine) -> object:
        def listener(*_: Any) -> None:
            traceback.extract_stack()

        event.listen(engine, "checkout", listener)
        return listener

    return {
        "uninstrumented": lambda engine: None,
        "instrument()": instrumented(None),
        "threshold, capture off": instrumented(60.0, "off"),
        "threshold, capture site": instrumented(60.0, "site"),
        "threshold, capture full": instrumented(60.0, "full"),
        "traceback.extract_stack()": extract_stack,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("POOLSCOPE_DATABASE_URL"))
    parser.add_argument("--rounds", type=int, default=60)
    arguments = parser.parse_args()
    if not arguments.database_url:
        parser.error("give --database-url or POOLSCOPE_DATABASE_URL (see `poolscope db url`)")
    url = url_for_driver(arguments.database_url, "psycopg2")
    # One engine per setup, each set up once; short bursts interleaved in a shuffled order
    # so that the load of this shared machine falls on every setup alike.
    engines = {name: create_engine(url, pool_size=1) for name in setups()}
    kept = [setup(engines[name]) for name, setup in setups().items()]
    samples: dict[str, list[float]] = {name: [] for name in engines}
    order = list(engines)
    try:
        for engine in engines.values():
            engine.connect().close()
        for _ in range(arguments.rounds):
            random.shuffle(order)
            for name in order:
                samples[name].append(at_depth(DEPTH, functools.partial(cycles, engines[name])))
    finally:
        for engine in engines.values():
            engine.dispose()
        del kept
    print(f"CPU µs per checkout+checkin, {arguments.rounds} rounds x {CYCLES} cycles")
    print("median, and the median of the per-round differences and ratios to the base")
    for name, values in samples.items():
        base_name = "instrument()" if name.startswith("threshold") else "uninstrumented"
        base = samples[base_name]
        added = statistics.median(mine - theirs for mine, theirs in zip(values, base, strict=True))
        ratio = statistics.median(mine / theirs for mine, theirs in zip(values, base, strict=True))
        print(
            f"{name:28} {statistics.median(values):8.2f} µs  {added:+7.2f} µs  {ratio:5.2f}x"
            f"  (vs {base_name})"
        )


if __name__ == "__main__":
    main()
