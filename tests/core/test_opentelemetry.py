"""instrument(engine, meter_provider=...) against the real OpenTelemetry SDK and the real
PostgreSQL: the semantic conventions' instruments, read at collection, equal to the
Prometheus series of the same workload (both recorded at once), sync and async."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.semconv._incubating.attributes import db_attributes
from opentelemetry.semconv._incubating.metrics import db_metrics
from opentelemetry.semconv.attributes import http_attributes
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from poolscope import PoolscopeError, instrument
from poolscope import metrics as names
from poolscope._recorder import DRAIN_AT
from poolscope.exporters import MULTIPROC_DIR_ENV
from poolscope.fastapi import instrument_app
from tests.support.holds import Holds, assert_the_eleventh_waited_for_a_release
from tests.support.otel_metrics import (
    Instrument,
    OtelReading,
    assert_same_as_prometheus,
    histogram,
    value,
)

# The 11th caller waits for one of ten connections held this long.
HOLD = 1.0


@pytest.fixture
def otel() -> Iterator[OtelReading]:
    reading = OtelReading()
    yield reading
    reading.shutdown()


def test_names_units_and_kinds_are_the_installed_semantic_conventions() -> None:
    # What the installed opentelemetry-semantic-conventions makes of each instrument.
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("semconv")
    conventions = {
        names.CONNECTION_COUNT: db_metrics.create_db_client_connection_count(meter),
        names.CONNECTION_MAX: db_metrics.create_db_client_connection_max(meter),
        names.CONNECTION_IDLE_MAX: db_metrics.create_db_client_connection_idle_max(meter),
        names.CONNECTION_PENDING_REQUESTS: (
            db_metrics.create_db_client_connection_pending_requests(meter)
        ),
        names.CONNECTION_TIMEOUTS: db_metrics.create_db_client_connection_timeouts(meter),
        names.CONNECTION_WAIT_TIME: db_metrics.create_db_client_connection_wait_time(meter),
        names.CONNECTION_USE_TIME: db_metrics.create_db_client_connection_use_time(meter),
        names.CONNECTION_CREATE_TIME: db_metrics.create_db_client_connection_create_time(meter),
    }
    for made in conventions.values():
        getattr(made, "add", getattr(made, "record", None))(1)
    data = reader.get_metrics_data()
    assert data is not None
    expected = {
        metric.name: metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    provider.shutdown()
    for prometheus_name, made in conventions.items():
        otel_name = names.OTEL_NAMES[prometheus_name]
        assert otel_name == made.name
        assert names.OTEL_UNITS[prometheus_name] == expected[otel_name].unit
    assert names.OTEL_POOL_NAME_ATTRIBUTE == db_attributes.DB_CLIENT_CONNECTION_POOL_NAME
    assert names.OTEL_STATE_ATTRIBUTE == db_attributes.DB_CLIENT_CONNECTION_STATE
    assert {"idle", "used"} == {
        state.value for state in db_attributes.DbClientConnectionStateValues
    }
    assert names.OTEL_ROUTE_ATTRIBUTE == http_attributes.HTTP_ROUTE
    own = [n for n in names.OTEL_NAMES.values() if not n.startswith("db.client.connection.")]
    assert own
    assert all(n.startswith(names.OTEL_PREFIX) for n in own)


def kinds_match_the_conventions(collected: dict[str, Instrument]) -> None:
    """Gauges are up-down counters (non-monotonic sums), counters monotonic sums."""
    for metric in names.GAUGES:
        if metric in names.OTEL_NAMES and names.OTEL_NAMES[metric] in collected:
            assert collected[names.OTEL_NAMES[metric]].monotonic is False, metric
    for metric in names.COUNTERS:
        assert collected[names.OTEL_NAMES[metric]].monotonic is True, metric
    for metric in (names.CONNECTION_WAIT_TIME, names.CONNECTION_USE_TIME):
        assert collected[names.OTEL_NAMES[metric]].monotonic is None, metric
    for metric, unit in names.OTEL_UNITS.items():
        if names.OTEL_NAMES[metric] in collected:
            assert collected[names.OTEL_NAMES[metric]].unit == unit, metric


def warm(engine: Engine, connections: int) -> None:
    """Open the pool's connections up front, so waits below measure the pool, not connects."""
    held = [engine.connect() for _ in range(connections)]
    for connection in held:
        connection.close()


def assert_one_wait_of_a_hold(collected: dict[str, Instrument], pool: str, holds: Holds) -> None:
    """Ten checkouts found a connection; the 11th waited as long as the test's clock says."""
    waits = assert_the_eleventh_waited_for_a_release(holds, HOLD)
    point = histogram(collected, names.CONNECTION_WAIT_TIME, pool)
    assert point is not None
    assert point.count == 11
    # Within 10 % of the test's own clock, which also counts the test's own call overhead.
    assert point.max == pytest.approx(waits[10], rel=0.1)
    assert point.sum == pytest.approx(sum(waits), rel=0.1)
    bounds = list(names.DEFAULT_BUCKETS)
    below = sum(point.bucket_counts[: bounds.index(0.1) + 1])
    assert below == 10
    assert sum(point.bucket_counts[bounds.index(0.5) + 1 : bounds.index(2.5) + 1]) == 1


def test_eleven_holders_of_ten_connections_sync(
    make_engine, otel: OtelReading, registry: CollectorRegistry
) -> None:
    engine = make_engine(pool_size=10, max_overflow=0)
    warm(engine, 10)
    instrument(engine, pool="otel-sync", registry=registry, meter_provider=otel.provider)
    holds = Holds()
    start = threading.Barrier(11)

    def hold() -> None:
        start.wait()
        asked = time.perf_counter()
        with engine.connect() as connection:
            got = time.perf_counter()
            connection.execute(text("SELECT pg_sleep(:hold)"), {"hold": HOLD})
            holds.add(asked, got)

    threads = [threading.Thread(target=hold) for _ in range(11)]
    for thread in threads:
        thread.start()
    used_while_waiting = []
    while any(thread.is_alive() for thread in threads):
        during = otel.collect()
        if value(during, names.CONNECTION_PENDING_REQUESTS, "otel-sync") == 1:
            used_while_waiting.append(
                value(during, names.CONNECTION_COUNT, "otel-sync", **{STATE: "used"})
            )
        time.sleep(0.02)
    for thread in threads:
        thread.join()

    assert 10 in used_while_waiting, used_while_waiting
    after = otel.collect()
    assert_one_wait_of_a_hold(after, "otel-sync", holds)
    assert value(after, names.CONNECTION_COUNT, "otel-sync", **{STATE: "used"}) == 0
    assert value(after, names.CONNECTION_COUNT, "otel-sync", **{STATE: "idle"}) == 10
    assert value(after, names.CONNECTION_PENDING_REQUESTS, "otel-sync") == 0
    assert value(after, names.CONNECTION_MAX, "otel-sync") == 10
    assert value(after, names.CONNECTION_IDLE_MAX, "otel-sync") == 10
    assert value(after, names.POOL_CHECKOUTS, "otel-sync") == 11
    use = histogram(after, names.CONNECTION_USE_TIME, "otel-sync")
    assert use is not None
    assert use.count == 11
    assert use.min >= HOLD
    kinds_match_the_conventions(after)
    assert assert_same_as_prometheus(after, registry, "otel-sync") >= 15


STATE = names.OTEL_STATE_ATTRIBUTE


async def test_eleven_holders_of_ten_connections_async(
    make_async_engine, otel: OtelReading, registry: CollectorRegistry
) -> None:
    engine = make_async_engine(pool_size=10, max_overflow=0)
    held = [await engine.connect() for _ in range(10)]
    for connection in held:
        await connection.close()
    instrument(engine, pool="otel-async", registry=registry, meter_provider=otel.provider)
    holds = Holds()

    async def hold() -> None:
        asked = time.perf_counter()
        async with engine.connect() as connection:
            got = time.perf_counter()
            await connection.execute(text("SELECT pg_sleep(:hold)"), {"hold": HOLD})
            holds.add(asked, got)

    tasks = [asyncio.create_task(hold()) for _ in range(11)]
    used_while_waiting = []
    while not all(task.done() for task in tasks):
        during = otel.collect()
        if value(during, names.CONNECTION_PENDING_REQUESTS, "otel-async") == 1:
            used_while_waiting.append(
                value(during, names.CONNECTION_COUNT, "otel-async", **{STATE: "used"})
            )
        await asyncio.sleep(0.02)
    await asyncio.gather(*tasks)

    assert 10 in used_while_waiting, used_while_waiting
    after = otel.collect()
    assert_one_wait_of_a_hold(after, "otel-async", holds)
    assert value(after, names.CONNECTION_COUNT, "otel-async", **{STATE: "used"}) == 0
    assert value(after, names.CONNECTION_COUNT, "otel-async", **{STATE: "idle"}) == 10
    assert value(after, names.CONNECTION_PENDING_REQUESTS, "otel-async") == 0
    kinds_match_the_conventions(after)
    assert assert_same_as_prometheus(after, registry, "otel-async") >= 15


def test_a_timeout_is_counted_and_its_wait_recorded(
    make_engine, otel: OtelReading, registry: CollectorRegistry
) -> None:
    engine = make_engine(pool_size=1, max_overflow=0, pool_timeout=0.5)
    instrument(engine, pool="otel-timeouts", registry=registry, meter_provider=otel.provider)
    before = otel.collect()
    # A measured zero before the first timeout, as in Prometheus.
    assert value(before, names.CONNECTION_TIMEOUTS, "otel-timeouts") == 0
    with engine.connect():
        asked = time.perf_counter()
        with pytest.raises(PoolTimeoutError):
            engine.connect()
        waited = time.perf_counter() - asked
    collected = otel.collect()
    assert value(collected, names.CONNECTION_TIMEOUTS, "otel-timeouts") == 1
    wait = histogram(collected, names.CONNECTION_WAIT_TIME, "otel-timeouts")
    assert wait is not None
    # The wait that timed out is a wait too; it is not a checkout.
    assert wait.count == 2
    assert wait.max == pytest.approx(waited, rel=0.1)
    assert value(collected, names.POOL_CHECKOUTS, "otel-timeouts") == 1
    assert assert_same_as_prometheus(collected, registry, "otel-timeouts") >= 15


async def test_a_leak_is_counted_and_shown_while_it_lasts(
    make_async_engine, otel: OtelReading
) -> None:
    engine = make_async_engine(pool_size=2, max_overflow=0)
    # OpenTelemetry only: no Prometheus registry at all.
    instrumentation = instrument(
        engine, pool="otel-leak", registry=None, meter_provider=otel.provider, leak_threshold=0.3
    )
    connection = await engine.connect()
    started = time.monotonic()
    while value(otel.collect(), names.POOL_LEAKED_CONNECTIONS, "otel-leak") != 1:
        assert time.monotonic() - started < 5, "the leak was never reported"
        await asyncio.sleep(0.02)
    collected = otel.collect()
    assert value(collected, names.POOL_LEAKS, "otel-leak") == 1
    assert value(collected, names.CONNECTION_COUNT, "otel-leak", **{STATE: "used"}) == 1
    await connection.close()
    collected = otel.collect()
    assert value(collected, names.POOL_LEAKED_CONNECTIONS, "otel-leak") == 0
    assert value(collected, names.POOL_LEAKS, "otel-leak") == 1
    instrumentation.close()


async def test_route_attribution_adds_http_route(
    make_engine, otel: OtelReading, registry: CollectorRegistry
) -> None:
    engine = make_engine(pool_size=2)
    instrument(engine, pool="otel-routes", registry=registry, meter_provider=otel.provider)
    app = FastAPI()
    instrument_app(app)

    @app.get("/items/{item_id}")
    def read_item(item_id: int) -> dict[str, int]:
        with engine.connect() as connection:
            return {"one": connection.execute(text("SELECT 1")).scalar_one()}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/items/42")).json() == {"one": 1}
    with engine.connect():
        pass  # outside a request
    collected = otel.collect()
    served = histogram(
        collected,
        names.CONNECTION_USE_TIME,
        "otel-routes",
        **{names.OTEL_ROUTE_ATTRIBUTE: "/items/{item_id}"},
    )
    assert served is not None
    assert served.count == 1
    # Outside a request: no http.route at all (Prometheus says route="").
    outside = histogram(collected, names.CONNECTION_USE_TIME, "otel-routes")
    assert outside is not None
    assert outside.count == 1
    assert assert_same_as_prometheus(collected, registry, "otel-routes") >= 15


def test_close_ends_the_gauges_and_an_engine_of_the_same_name_continues_the_counters(
    make_engine, otel: OtelReading, registry: CollectorRegistry
) -> None:
    first = make_engine(pool_size=2)
    instrumentation = instrument(
        first, pool="otel-again", registry=registry, meter_provider=otel.provider
    )
    with first.connect():
        pass
    instrumentation.close()
    collected = otel.collect()
    assert value(collected, names.CONNECTION_COUNT, "otel-again", **{STATE: "idle"}) is None
    assert value(collected, names.POOL_CHECKOUTS, "otel-again") == 1

    second = make_engine(pool_size=2)
    instrument(second, pool="otel-again", registry=registry, meter_provider=otel.provider)
    with second.connect():
        pass
    collected = otel.collect()
    assert value(collected, names.POOL_CHECKOUTS, "otel-again") == 2
    assert value(collected, names.POOLS_CREATED, "otel-again") == 2
    assert value(collected, names.CONNECTION_COUNT, "otel-again", **{STATE: "idle"}) == 1
    assert assert_same_as_prometheus(collected, registry, "otel-again") >= 15


def test_a_request_span_is_never_the_exemplar_of_other_checkouts(
    make_engine, otel: OtelReading
) -> None:
    engine = make_engine(pool_size=2)
    instrument(engine, pool="otel-exemplars", registry=None, meter_provider=otel.provider)
    tracer = TracerProvider().get_tracer("test")
    # Checkouts outside any request, then one request whose checkin folds them all (it
    # finds more than DRAIN_AT durations waiting): none of them is that request's.
    for _ in range(DRAIN_AT):
        with engine.connect():
            pass
    with tracer.start_as_current_span("request") as span:
        with engine.connect():
            pass
        trace_id = span.get_span_context().trace_id
    collected = otel.collect()
    for metric in (names.CONNECTION_WAIT_TIME, names.CONNECTION_USE_TIME):
        point = histogram(collected, metric, "otel-exemplars")
        assert point is not None
        assert point.count == DRAIN_AT + 1
        assert [e for e in point.exemplars if e.trace_id == trace_id] == [], metric


def test_both_exporters_get_each_value_once_whichever_folds_first(
    make_engine, otel: OtelReading, registry: CollectorRegistry
) -> None:
    engine = make_engine(pool_size=2)
    instrument(engine, pool="otel-tee", registry=registry, meter_provider=otel.provider)
    for _ in range(DRAIN_AT + 10):  # a checkin folds once, past DRAIN_AT
        with engine.connect():
            pass
    registry.collect()  # a scrape folds what is left, for both
    for _ in range(5):
        with engine.connect():
            pass
    collected = otel.collect()  # and a collection what came after
    wait = histogram(collected, names.CONNECTION_WAIT_TIME, "otel-tee")
    assert wait is not None
    assert wait.count == DRAIN_AT + 15
    assert value(collected, names.POOL_CHECKOUTS, "otel-tee") == DRAIN_AT + 15
    assert assert_same_as_prometheus(collected, registry, "otel-tee") >= 15


def test_nowhere_to_record_is_refused(make_engine) -> None:
    engine = make_engine()
    with pytest.raises(PoolscopeError, match="nowhere to record"):
        instrument(engine, registry=None)
    # Refused before the pool was touched: it can be instrumented now.
    instrument(engine, registry=CollectorRegistry()).close()


@pytest.mark.process
def test_importing_poolscope_does_not_import_opentelemetry() -> None:
    # Not poolscope.fastapi: recent FastAPI releases import opentelemetry themselves.
    code = (
        "import sys, poolscope, poolscope.exporters; "
        "print(sorted(n for n in sys.modules if n.split('.')[0] == 'opentelemetry'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


# In a process of its own: multiprocess mode is chosen before prometheus_client is
# imported. Prints the Prometheus files' figures and the OpenTelemetry ones, once the
# background flush has written all six checkouts (or after 5 s).
_MULTIPROCESS_AND_OTEL = """
import json, sys, time
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import create_engine, text
import poolscope
from poolscope import metrics as names
from poolscope._urls import url_for_driver

reader = InMemoryMetricReader()
provider = MeterProvider(metric_readers=[reader])
engine = create_engine(url_for_driver(sys.argv[1], "psycopg2"), pool_size=2, max_overflow=0)
instrumentation = poolscope.instrument(engine, pool="mp-otel", meter_provider=provider)
assert instrumentation.multiprocess
for _ in range(5):
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
held = engine.connect()
labels = {names.POOL_LABEL: "mp-otel"}
deadline = time.monotonic() + 5
while True:
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    checkouts = registry.get_sample_value(f"{names.POOL_CHECKOUTS}_total", labels)
    if checkouts == 6 or time.monotonic() > deadline:
        break
    time.sleep(0.05)
prometheus = {
    "checkouts": checkouts,
    "waits": registry.get_sample_value(f"{names.CONNECTION_WAIT_TIME}_count", labels),
    "uses": registry.get_sample_value(
        f"{names.CONNECTION_USE_TIME}_count", {**labels, names.ROUTE_LABEL: ""}
    ),
    "used": registry.get_sample_value(names.CONNECTION_COUNT, {**labels, "state": "used"}),
}
points = {
    metric.name: {
        tuple(sorted(dict(point.attributes).items())): getattr(point, "value", None)
        if hasattr(point, "value") else point.count
        for point in metric.data.data_points
    }
    for resource in reader.get_metrics_data().resource_metrics
    for scope in resource.scope_metrics
    for metric in scope.metrics
}
pool = ((names.OTEL_POOL_NAME_ATTRIBUTE, "mp-otel"),)
state = ((names.OTEL_POOL_NAME_ATTRIBUTE, "mp-otel"), (names.OTEL_STATE_ATTRIBUTE, "used"))
otel = {
    "checkouts": points[names.OTEL_NAMES[names.POOL_CHECKOUTS]][pool],
    "waits": points[names.OTEL_NAMES[names.CONNECTION_WAIT_TIME]][pool],
    "uses": points[names.OTEL_NAMES[names.CONNECTION_USE_TIME]][pool],
    "used": points[names.OTEL_NAMES[names.CONNECTION_COUNT]][state],
}
held.close()
instrumentation.close()
engine.dispose()
print(json.dumps({"prometheus": prometheus, "otel": otel}))
"""


@pytest.mark.process
@pytest.mark.slow
def test_multiprocess_files_and_opentelemetry_at_once(database_url: str, tmp_path: Path) -> None:
    environment = {**os.environ, MULTIPROC_DIR_ENV: str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", _MULTIPROCESS_AND_OTEL, database_url],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    expected = {"checkouts": 6, "waits": 6, "uses": 5, "used": 1}
    assert figures["prometheus"] == expected
    assert figures["otel"] == expected
