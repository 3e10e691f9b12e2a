"""Where an instrumented pool's measurements go: a prometheus_client registry, or
prometheus_client's multiprocess files when a service runs several worker processes; and
an OpenTelemetry ``MeterProvider`` instead or beside (imported only when one is given:
``opentelemetry-api`` is the optional extra ``poolscope[otel]``).

Each sits behind ``poolscope._recorder.Recorder`` (two at once behind a ``TeeRecorder``);
the pool and ``instrument()`` never ask which one they hold. ``write_threadpool_files`` is
the multiprocess way to the thread-pool gauges, which a single process reads at scrape
time (``poolscope.fastapi``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from poolscope._errors import PoolscopeError
from poolscope._recorder import Recorder
from poolscope.exporters._multiprocess import MULTIPROC_DIR_ENV, multiprocess_enabled
from poolscope.exporters._multiprocess import recorder_for as _multiprocess_recorder
from poolscope.exporters._registry import exporter_for
from poolscope.exporters._tee import TeeRecorder
from poolscope.exporters._threadpool_files import write_threadpool_files

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

__all__ = [
    "MULTIPROC_DIR_ENV",
    "multiprocess_enabled",
    "recorder_for",
    "write_threadpool_files",
]


def recorder_for(
    name: str,
    *,
    registry: CollectorRegistry | None,
    multiprocess: bool,
    meter_provider: MeterProvider | None = None,
) -> Recorder:
    """The recorder of pool ``name``: this process's multiprocess one, or ``registry``'s
    (none for ``registry=None``), and ``meter_provider``'s; both behind one tee."""
    recorders: list[Recorder] = []
    if registry is not None:
        recorders.append(
            _multiprocess_recorder(name) if multiprocess else exporter_for(registry).recorder(name)
        )
    if meter_provider is not None:
        # Here, not at the top: OpenTelemetry is optional, and only this needs it.
        from poolscope.exporters._otel import exporter_for as otel_exporter_for

        recorders.append(otel_exporter_for(meter_provider).recorder(name))
    if not recorders:
        raise PoolscopeError(
            "registry=None and no meter_provider: poolscope has nowhere to record; pass a "
            "meter_provider (OpenTelemetry), or leave registry to record to Prometheus"
        )
    if len(recorders) == 1:
        return recorders[0]
    return TeeRecorder(*recorders)
