"""The pool's OpenTelemetry instruments pushed by the real OTLP/HTTP exporter to a real
HTTP endpoint on 127.0.0.1, and read back from the protobuf it received."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from sqlalchemy import Engine, create_engine, text

from poolscope import instrument
from poolscope import metrics as names
from poolscope._urls import url_for_driver


class Collector(ThreadingHTTPServer):
    """What an OpenTelemetry collector's OTLP/HTTP receiver does, minus the forwarding:
    answers each export and keeps the requests, decoded."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receiver)
        self.requests: list[ExportMetricsServiceRequest] = []
        self.paths: list[str] = []

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1/metrics"


class _Receiver(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        self.server.paths.append(self.path)
        self.server.requests.append(request)
        answer = ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(url_for_driver(database_url, "psycopg"), pool_size=3, max_overflow=1)
    yield engine
    engine.dispose()


def attributes_of(point: Any) -> dict[str, Any]:
    found = {}
    for pair in point.attributes:
        kind = pair.value.WhichOneof("value")
        found[pair.key] = getattr(pair.value, kind)
    return found


def test_an_otlp_exporter_pushes_the_pool_metrics(collector: Collector, engine: Engine) -> None:
    exporter = OTLPMetricExporter(endpoint=collector.endpoint)
    # Exports only when flushed: the test says when.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    instrumentation = instrument(engine, pool="otlp", registry=None, meter_provider=provider)
    try:
        held = engine.connect()
        held.execute(text("SELECT 1"))
        for _ in range(4):
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        assert provider.force_flush(timeout_millis=10_000)
        held.close()
    finally:
        instrumentation.close()
        provider.shutdown()

    assert collector.requests, "the exporter sent nothing"
    assert collector.paths[0] == "/v1/metrics"
    request = collector.requests[0]
    (scope,) = [
        scope.scope
        for resource in request.resource_metrics
        for scope in resource.scope_metrics
        if scope.scope.name == names.OTEL_METER
    ]
    assert scope.version == metadata.version("poolscope")
    metrics = {
        metric.name: metric
        for resource in request.resource_metrics
        for scope in resource.scope_metrics
        if scope.scope.name == names.OTEL_METER
        for metric in scope.metrics
    }
    pool = {names.OTEL_POOL_NAME_ATTRIBUTE: "otlp"}
    for metric, unit in names.OTEL_UNITS.items():
        assert metrics[names.OTEL_NAMES[metric]].unit == unit, metric

    count = metrics[names.OTEL_NAMES[names.CONNECTION_COUNT]]
    assert not count.sum.is_monotonic
    states = {
        attributes_of(point)[names.OTEL_STATE_ATTRIBUTE]: point.as_int
        for point in count.sum.data_points
        if attributes_of(point).items() >= pool.items()
    }
    # One connection held; the four checkouts after it, one at a time, opened a second
    # and gave it back each time.
    assert states == {"used": 1, "idle": 1}
    maximum = metrics[names.OTEL_NAMES[names.CONNECTION_MAX]].sum.data_points
    assert [(attributes_of(p), p.as_int) for p in maximum] == [(pool, 4)]

    wait = metrics[names.OTEL_NAMES[names.CONNECTION_WAIT_TIME]].histogram
    (point,) = wait.data_points
    assert attributes_of(point) == pool
    assert point.count == 5
    assert list(point.explicit_bounds) == list(names.DEFAULT_BUCKETS)
    assert sum(point.bucket_counts) == 5

    use = metrics[names.OTEL_NAMES[names.CONNECTION_USE_TIME]].histogram
    (point,) = use.data_points
    assert attributes_of(point) == pool
    assert point.count == 4  # the held connection is not back yet

    timeouts = metrics[names.OTEL_NAMES[names.CONNECTION_TIMEOUTS]].sum
    assert timeouts.is_monotonic
    assert [(attributes_of(p), p.as_int) for p in timeouts.data_points] == [(pool, 0)]
    checkouts = metrics[names.OTEL_NAMES[names.POOL_CHECKOUTS]].sum.data_points
    assert [(attributes_of(p), p.as_int) for p in checkouts] == [(pool, 5)]
