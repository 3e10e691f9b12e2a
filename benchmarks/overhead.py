"""What poolscope costs per checkout+checkin, next to OpenTelemetry's SQLAlchemy instrumentation.

One process, interleaved: every round times a batch of ``with engine.connect(): pass``
cycles (``async with`` for the async drivers) on each variant in turn, so machine noise hits all
variants alike (separate processes differ by 15-30 % here). Prints each variant's median
µs per cycle and the median of its per-round ratios to the uninstrumented engine, in the
process's CPU time (a cycle does no network round trip, and CPU time is what other
processes on a shared machine disturb least) and in wall-clock time. Then it counts the
Python bytecode instructions that 50 more cycles of each variant run, under a tracer: an
exact figure, the same on every run, that CPU time follows closely on these machines; and
over 1,025 cycles for ``none``, ``poolscope`` and ``poolscope-otel``, which includes the
one fold of the raw durations that so many checkins make (50 cycles may hold none).

Variants: ``none``; ``poolscope`` (single-process mode, the default; no leak threshold);
``poolscope-leak`` (the same with ``leak_threshold=60`` and ``stack_capture="site"``);
``poolscope-mp`` (prometheus_client multiprocess mode); ``poolscope-otel`` (poolscope
recording through the OpenTelemetry SDK only: ``registry=None, meter_provider=...``, an
in-memory reader; its durations reach the SDK's histograms at each checkin past
``DRAIN_AT``, one ``record()`` each, as they would between two exports); ``otel``
(opentelemetry-instrumentation-sqlalchemy with SDK tracer and meter providers; it wraps
``Engine.connect`` globally, so it is switched on only around its own batches; its 0.66b1
release declares sqlalchemy<2.1 and instruments nothing on 2.1 without
``skip_dep_check=True``, which is passed, and the spans and connection-usage points it
produced are counted and printed to prove it ran).

    pip install -e '.[benchmark]'
    python benchmarks/overhead.py [--database-url URL] [--rounds 40] [--cycles 300]
        [--drivers psycopg2 psycopg asyncpg psycopg_async] [--mysql-url URL]
        [--cycles-of empty select]
    python benchmarks/overhead.py --drivers pymysql,aiomysql --mysql-url mysql://...

One table per driver (default: the four PostgreSQL ones: psycopg2 and psycopg 3 on a sync
Engine, asyncpg and psycopg 3 on an AsyncEngine), one after the other; pymysql (sync) and
aiomysql (async) run on ``--mysql-url`` (or ``$POOLSCOPE_MYSQL_URL``, or a MySQL
``--database-url``). Drivers are given space- or comma-separated.

Each driver in each cycle (``--cycles-of``): ``empty`` (checkout and checkin, no
statement: what poolscope's pool takes over) and ``select`` (one ``select 1`` per checkout
through ``exec_driver_sql``: a round trip to the server, and poolscope's measuring of the
statement). With both, each driver ends with the bytecode instructions poolscope adds per
statement: the select cycle's added count less the empty cycle's.

Without ``--database-url`` (or ``$POOLSCOPE_DATABASE_URL``) the embedded PostgreSQL starts
(only when a PostgreSQL driver is chosen).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

# Multiprocess mode is chosen when prometheus_client is imported: set it up first. The
# single-process variant does not touch prometheus_client's values on the hot path.
_MULTIPROC_DIR = tempfile.mkdtemp(prefix="poolscope-bench-")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _MULTIPROC_DIR)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any, Literal  # noqa: E402

from prometheus_client import CollectorRegistry  # noqa: E402
from sqlalchemy import Engine, create_engine  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

import poolscope  # noqa: E402
from poolscope import metrics as names  # noqa: E402
from poolscope import url_for_driver  # noqa: E402
from poolscope.postgres import resolve_database_url  # noqa: E402

# The drivers as SQLAlchemy names them in a URL, as poolscope.url_for_driver takes them.
Driver = Literal["psycopg2", "psycopg", "asyncpg", "psycopg_async", "pymysql", "aiomysql"]
SYNC_DRIVERS: tuple[Driver, ...] = ("psycopg2", "psycopg")
ASYNC_DRIVERS: tuple[Driver, ...] = ("asyncpg", "psycopg_async")
DRIVERS: tuple[Driver, ...] = (*SYNC_DRIVERS, *ASYNC_DRIVERS)
# MySQL's and MariaDB's, on --mysql-url.
MYSQL_DRIVERS: tuple[Driver, ...] = ("pymysql", "aiomysql")
ALL_DRIVERS: tuple[Driver, ...] = (*DRIVERS, *MYSQL_DRIVERS)
OTEL_WAIT_TIME = names.OTEL_NAMES[names.CONNECTION_WAIT_TIME]
VARIANTS = ("none", "poolscope", "poolscope-leak", "poolscope-mp", "poolscope-otel", "otel")
CYCLES_OF = ("empty", "select")
# Cycles traced to count bytecode instructions (tracing is slow; the count is exact).
_COUNTED_CYCLES = 50
# Cycles traced again to count the fold too: a checkin that finds more than DRAIN_AT
# (1,024, private to poolscope) durations waiting folds them, so any 1,025 consecutive
# checkins fold exactly once (one record() per value through OpenTelemetry, a few C-level
# passes per bucket through prometheus_client).
_FOLDED_CYCLES = 1025
_FOLDED_VARIANTS = ("none", "poolscope", "poolscope-otel")


class _Otel:
    """OpenTelemetry's SQLAlchemy instrumentation, switched on only around its batches."""

    def __init__(self) -> None:
        try:
            from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import InMemoryMetricReader
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import (
                SimpleSpanProcessor,
                SpanExporter,
                SpanExportResult,
            )
        except ImportError:
            sys.exit("OpenTelemetry is missing: pip install -e '.[benchmark]'")

        class CountingExporter(SpanExporter):
            spans = 0

            def export(self, spans: Any) -> SpanExportResult:
                CountingExporter.spans += len(spans)
                return SpanExportResult.SUCCESS

        self.exporter = CountingExporter
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(CountingExporter()))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.instrumentor = SQLAlchemyInstrumentor()
        # poolscope's own OpenTelemetry path (the poolscope-otel variant), apart.
        self.poolscope_reader = InMemoryMetricReader()
        self.poolscope_provider = MeterProvider(metric_readers=[self.poolscope_reader])

    def on(self, engine: Engine) -> None:
        tracer = self.instrumentor.instrument(
            engine=engine,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            skip_dep_check=True,
        )
        if tracer is None:
            sys.exit("opentelemetry-instrumentation-sqlalchemy declined to instrument")

    def off(self) -> None:
        self.instrumentor.uninstrument()

    @contextmanager
    def around(self, variant: str, engine: Engine) -> Iterator[None]:
        """OpenTelemetry on around the ``otel`` variant's batch only."""
        if variant != "otel":
            yield
            return
        self.on(engine)
        try:
            yield
        finally:
            self.off()

    def proof(self) -> str:
        points = 0
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "db.client.connections.usage":
                        points += sum(
                            1 for point in metric.data.data_points if point.value is not None
                        )
        checkouts = 0
        data = self.poolscope_reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == OTEL_WAIT_TIME:
                        checkouts += sum(point.count for point in metric.data.data_points)
        return (
            f"otel produced {self.exporter.spans} spans, {points} connections.usage points; "
            f"poolscope-otel recorded {checkouts} waits in {OTEL_WAIT_TIME}"
        )


Timing = tuple[float, float]  # (CPU µs, wall-clock µs) per cycle


@contextmanager
def _counting_bytecodes(counter: list[int]) -> Iterator[None]:
    """Count the Python bytecode instructions run in this thread meanwhile into counter[0]."""

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            counter[0] += 1
        return trace

    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(None)


@dataclass
class Results:
    cycles: int
    timings: dict[str, list[Timing]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    # Python bytecode instructions per cycle: the same cost, free of the machine's noise.
    bytecodes: dict[str, float] = field(default_factory=dict)
    # The same over _FOLDED_CYCLES, one fold of the lists included.
    folded: dict[str, float] = field(default_factory=dict)

    def report(self, title: str) -> None:
        rounds = len(self.timings["none"])
        print(f"\n{title}: µs per cycle, {rounds} rounds x {self.cycles}")
        print(
            f"  {'variant':14s} {'CPU µs':>8s} {'+µs':>7s} {'ratio':>7s}"
            f"   {'wall µs':>8s} {'+µs':>7s} {'ratio':>7s}"
        )
        added: dict[str, float] = {}
        for variant, timings in self.timings.items():
            line = f"  {variant:14s}"
            for clock in (0, 1):
                base = [timing[clock] for timing in self.timings["none"]]
                mine = [timing[clock] for timing in timings]
                median = statistics.median(mine)
                ratio = statistics.median(m / b for m, b in zip(mine, base, strict=True))
                extra = median - statistics.median(base)
                if clock == 0:
                    added[variant] = extra
                line += f" {median:8.2f} {extra:7.2f} {ratio:7.3f}x  "
            print(line.rstrip())
        if added["poolscope"] > 0:
            print(
                f"  OpenTelemetry adds {added['otel'] / added['poolscope']:.1f}x the CPU time "
                "poolscope adds"
            )
        base = self.bytecodes["none"]
        print("  Python bytecode instructions per cycle (deterministic):")
        for variant, count in self.bytecodes.items():
            print(f"  {variant:14s} {count:8.0f} {count - base:+7.0f} {count / base:7.3f}x")
        base = self.folded["none"]
        print(f"  The same over {_FOLDED_CYCLES} cycles, one fold of the lists included:")
        for variant, count in self.folded.items():
            print(f"  {variant:14s} {count:8.0f} {count - base:+7.0f} {count / base:7.3f}x")
        # A fold lands in one batch in several: the medians above leave it out, the means
        # over every batch carry it, so the OpenTelemetry SDK path is compared on them.
        print("  Mean CPU µs per cycle over every batch, folds included:")
        base_mean = statistics.fmean(timing[0] for timing in self.timings["none"])
        mean_added: dict[str, float] = {}
        for variant in (*_FOLDED_VARIANTS, "otel"):
            mean = statistics.fmean(timing[0] for timing in self.timings[variant])
            mean_added[variant] = mean - base_mean
            print(f"  {variant:14s} {mean:8.2f} {mean - base_mean:+7.2f} {mean / base_mean:7.3f}x")
        if mean_added["poolscope"] > 0 and mean_added["poolscope-otel"] > 0:
            print(
                "  poolscope through the OpenTelemetry SDK adds "
                f"{mean_added['poolscope-otel'] / mean_added['poolscope']:.1f}x the CPU time "
                "it adds through prometheus_client; opentelemetry-instrumentation-sqlalchemy "
                f"adds {mean_added['otel'] / mean_added['poolscope-otel']:.1f}x what poolscope "
                "adds through the SDK"
            )


def _sync_batch(engine: Engine, cycles: int, select: bool = False) -> Timing:
    connect = engine.connect
    cpu, wall = time.process_time(), time.perf_counter()
    if select:
        for _ in range(cycles):
            with connect() as connection:
                connection.exec_driver_sql("select 1")
    else:
        for _ in range(cycles):
            with connect():
                pass
    return (
        (time.process_time() - cpu) / cycles * 1e6,
        (time.perf_counter() - wall) / cycles * 1e6,
    )


async def _async_batch(engine: AsyncEngine, cycles: int, select: bool = False) -> Timing:
    connect = engine.connect
    cpu, wall = time.process_time(), time.perf_counter()
    if select:
        for _ in range(cycles):
            async with connect() as connection:
                await connection.exec_driver_sql("select 1")
    else:
        for _ in range(cycles):
            async with connect():
                pass
    return (
        (time.process_time() - cpu) / cycles * 1e6,
        (time.perf_counter() - wall) / cycles * 1e6,
    )


def _instrument(variant: str, engine: Engine | AsyncEngine, otel: _Otel) -> Any:
    if variant == "poolscope-otel":
        return poolscope.instrument(
            engine, pool=variant, registry=None, meter_provider=otel.poolscope_provider
        )
    if variant == "poolscope":
        return poolscope.instrument(
            engine, pool=variant, registry=CollectorRegistry(), multiprocess=False
        )
    if variant == "poolscope-leak":
        # Leak detection on, its checkout site recorded (the default stack capture).
        return poolscope.instrument(
            engine,
            pool=variant,
            registry=CollectorRegistry(),
            multiprocess=False,
            leak_threshold=60.0,
            stack_capture="site",
        )
    if variant == "poolscope-mp":
        return poolscope.instrument(engine, pool=variant, multiprocess=True)
    return None


def _drain(handles: list[Any]) -> None:
    """Fold what the timed rounds measured, so that the counted cycles run the checkout's
    own path and no drain (one per DRAIN_AT checkouts: its share is in the CPU times)."""
    for handle in handles:
        if handle is not None:
            handle.probe.drain()


def _schedule(rounds: int) -> list[str]:
    """Every variant once per round, the starting one rotating so none always goes first."""
    order: list[str] = []
    for round_number in range(rounds):
        shift = round_number % len(VARIANTS)
        order.extend(VARIANTS[shift:] + VARIANTS[:shift])
    return order


def bench_sync(
    url: str, driver: Driver, rounds: int, cycles: int, otel: _Otel, select: bool = False
) -> Results:
    engines = {v: create_engine(url_for_driver(url, driver), pool_size=2) for v in VARIANTS}
    handles = [_instrument(v, e, otel) for v, e in engines.items()]
    results = Results(cycles)
    for engine in engines.values():
        _sync_batch(engine, 50, select)
    for variant in _schedule(rounds):
        with otel.around(variant, engines[variant]):
            results.timings[variant].append(_sync_batch(engines[variant], cycles, select))
    _drain(handles)
    for variant, engine in engines.items():
        counter = [0]
        with otel.around(variant, engine), _counting_bytecodes(counter):
            _sync_batch(engine, _COUNTED_CYCLES, select)
        results.bytecodes[variant] = counter[0] / _COUNTED_CYCLES
    for variant in _FOLDED_VARIANTS:
        counter = [0]
        with _counting_bytecodes(counter):
            _sync_batch(engines[variant], _FOLDED_CYCLES)
        results.folded[variant] = counter[0] / _FOLDED_CYCLES
    for handle in handles:
        if handle is not None:
            handle.close()
    for engine in engines.values():
        engine.dispose()
    return results


async def bench_async(
    url: str, driver: Driver, rounds: int, cycles: int, otel: _Otel, select: bool = False
) -> Results:
    engines = {v: create_async_engine(url_for_driver(url, driver), pool_size=2) for v in VARIANTS}
    handles = [_instrument(v, e, otel) for v, e in engines.items()]
    results = Results(cycles)
    for engine in engines.values():
        await _async_batch(engine, 50, select)
    for variant in _schedule(rounds):
        with otel.around(variant, engines[variant].sync_engine):
            results.timings[variant].append(await _async_batch(engines[variant], cycles, select))
    _drain(handles)
    for variant, engine in engines.items():
        counter = [0]
        with otel.around(variant, engine.sync_engine), _counting_bytecodes(counter):
            await _async_batch(engine, _COUNTED_CYCLES, select)
        results.bytecodes[variant] = counter[0] / _COUNTED_CYCLES
    for variant in _FOLDED_VARIANTS:
        counter = [0]
        with _counting_bytecodes(counter):
            await _async_batch(engines[variant], _FOLDED_CYCLES)
        results.folded[variant] = counter[0] / _FOLDED_CYCLES
    for handle in handles:
        if handle is not None:
            handle.close()
    for engine in engines.values():
        await engine.dispose()
    return results


def _report_per_statement(empty: Results, select: Results) -> None:
    """What each variant adds per statement: the select cycle's added bytecodes less the
    empty cycle's (the cycles differ by exactly one statement)."""
    print("  bytecode instructions added per statement (select cycle - empty cycle):")
    for variant in VARIANTS[1:]:
        added_select = select.bytecodes[variant] - select.bytecodes["none"]
        added_empty = empty.bytecodes[variant] - empty.bytecodes["none"]
        print(f"  {variant:14s} {added_select - added_empty:+7.0f}")


def _drivers(given: list[str]) -> list[Driver]:
    """``--drivers`` as given, space- or comma-separated, each one checked."""
    names = [name for item in given for name in item.split(",") if name]
    unknown = [name for name in names if name not in ALL_DRIVERS]
    if unknown:
        sys.exit(f"--drivers: unknown {', '.join(unknown)}; choose of {', '.join(ALL_DRIVERS)}")
    return [driver for driver in ALL_DRIVERS if driver in names]


def driver_dialect(driver: Driver) -> str:
    return "mysql" if driver in MYSQL_DRIVERS else "postgresql"


def dialect_of(url: str) -> str:
    return "mysql" if make_url(url).get_backend_name() in ("mysql", "mariadb") else "postgresql"


def _urls(args: argparse.Namespace, drivers: list[Driver]) -> dict[str, str]:
    """The server each chosen driver's dialect runs on."""
    urls: dict[str, str] = {}
    given = args.database_url or os.environ.get("POOLSCOPE_DATABASE_URL")
    mysql = args.mysql_url or os.environ.get("POOLSCOPE_MYSQL_URL")
    if given and dialect_of(given) == "mysql":
        mysql, given = mysql or given, None
    dialects = {driver_dialect(driver) for driver in drivers}
    if "mysql" in dialects:
        if not mysql:
            sys.exit("pymysql and aiomysql need a server: --mysql-url mysql://USER:PASSWORD@...")
        urls["mysql"] = mysql
    if "postgresql" in dialects:
        urls["postgresql"] = resolve_database_url(given)
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--mysql-url", default=None)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument(
        "--drivers",
        nargs="+",
        default=list(DRIVERS),
        help=f"space- or comma-separated, of {', '.join(ALL_DRIVERS)}",
    )
    parser.add_argument("--cycles-of", nargs="+", choices=CYCLES_OF, default=list(CYCLES_OF))
    args = parser.parse_args()
    drivers = _drivers(args.drivers)
    urls = _urls(args, drivers)
    otel = _Otel()
    try:
        for driver in (*SYNC_DRIVERS, "pymysql", *ASYNC_DRIVERS, "aiomysql"):
            if driver not in drivers:
                continue
            url = urls[driver_dialect(driver)]
            is_async = driver in (*ASYNC_DRIVERS, "aiomysql")
            engine_kind = "AsyncEngine" if is_async else "sync Engine"
            by_cycle: dict[str, Results] = {}
            for cycle in args.cycles_of:
                select = cycle == "select"
                if is_async:
                    results = asyncio.run(
                        bench_async(url, driver, args.rounds, args.cycles, otel, select)
                    )
                else:
                    results = bench_sync(url, driver, args.rounds, args.cycles, otel, select)
                results.report(f"{driver} ({engine_kind}), {cycle} cycle")
                by_cycle[cycle] = results
            if len(by_cycle) == len(CYCLES_OF):
                _report_per_statement(by_cycle["empty"], by_cycle["select"])
        print(f"\n{otel.proof()}")
    finally:
        shutil.rmtree(_MULTIPROC_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
