"""The private attributes of prometheus_client that poolscope relies on, pinned: a batch
written through ``exporters._prometheus_internals`` reads back exactly as ``observe()`` of
each value would, in a registry and through the multiprocess files, on the oldest
prometheus-client CI installs (``nox -s lowest``) and the newest (``make test``); and no
other module reaches into them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram

import poolscope
from poolscope.exporters._prometheus_internals import add_to_histogram

BOUNDS = (0.005, 0.05, 0.5, 5.0)
DURATIONS = [0.0, 0.001, 0.005, 0.0051, 0.2, 0.5, 0.5, 4.9, 7.0, 31.5]


def per_bucket(durations: list[float]) -> list[int]:
    """Counts per bucket, not cumulative, value <= bound, +Inf last."""
    counts = [0] * (len(BOUNDS) + 1)
    for duration in durations:
        counts[next((i for i, b in enumerate(BOUNDS) if duration <= b), len(BOUNDS))] += 1
    return counts


def samples(registry: CollectorRegistry) -> dict[str, float]:
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_a_batch_reads_back_as_observing_each_value() -> None:
    batched, observed = CollectorRegistry(), CollectorRegistry()
    batch = Histogram("t_seconds", "t", ["pool"], registry=batched, buckets=BOUNDS)
    one_by_one = Histogram("t_seconds", "t", ["pool"], registry=observed, buckets=BOUNDS)
    add_to_histogram(batch.labels(pool="p"), per_bucket(DURATIONS), sum(DURATIONS))
    for duration in DURATIONS:
        one_by_one.labels(pool="p").observe(duration)
    assert samples(batched) == samples(observed)
    assert samples(batched)["t_seconds_count[('pool', 'p')]"] == len(DURATIONS)


MULTIPROCESS = """
import json, sys
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from poolscope.exporters._prometheus_internals import add_to_histogram, values_live_in_files

counts, total, bounds = json.loads(sys.argv[1])
histogram = Histogram("t_seconds", "t", ["pool"], registry=None, buckets=bounds)
add_to_histogram(histogram.labels(pool="p"), counts, total)
registry = CollectorRegistry()
MultiProcessCollector(registry)
print(json.dumps({
    "files": values_live_in_files(),
    "samples": {f"{s.name}{sorted(s.labels.items())}": s.value
                for family in registry.collect() for s in family.samples},
}))
"""


@pytest.mark.process
def test_a_batch_reads_back_through_the_multiprocess_files(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    argument = json.dumps([per_bucket(DURATIONS), sum(DURATIONS), BOUNDS])
    result = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS, argument],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout)
    assert read["files"] is True
    observed = CollectorRegistry()
    histogram = Histogram("t_seconds", "t", ["pool"], registry=observed, buckets=BOUNDS)
    for duration in DURATIONS:
        histogram.labels(pool="p").observe(duration)
    assert read["samples"] == samples(observed)


def test_only_the_adapter_reaches_into_prometheus_client() -> None:
    private = re.compile(r"(?<!self)\.(_buckets|_sum|_value|_metrics|_labelnames)\b")
    package = Path(poolscope.__file__).parent
    reaching = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if private.search(path.read_text())
    )
    assert reaching == ["exporters/_prometheus_internals.py"]
