"""A target that goes bad during a run: its first answers are good, then its /metrics
never ends. ``poolscope run --locustfile`` stops reading each answer at its size cap, ends
the run after the misses it tolerates, and writes the run file marked incomplete with the
reason: exit 1, no traceback, long before the duration asked for. ``poolscope sweep``
stops there too, its sweep file marked partial with the reason."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from poolscope.sweep import load_sweep
from tests.support.hostile import hostile_target
from tests.support.runs import run_poolscope

pytestmark = pytest.mark.timeout(120)

LOCUSTFILE = """
from locust import HttpUser, constant, task

class Reader(HttpUser):
    wait_time = constant(0.1)

    @task
    def ok(self):
        self.client.get("/ok")
"""
# Far beyond the few seconds the misses take: the run must end on the target, not its clock.
DURATION_SECONDS = 60


@pytest.mark.e2e
@pytest.mark.process
@pytest.mark.slow
def test_a_target_gone_bad_ends_the_run_written_and_incomplete(tmp_path: Path) -> None:
    locustfile = tmp_path / "reader.py"
    locustfile.write_text(LOCUSTFILE)
    out = tmp_path / "runs"
    started = time.monotonic()
    with hostile_target() as base:
        result = run_poolscope(
            "run",
            "--locustfile",
            str(locustfile),
            "--host",
            f"{base}/souring",
            "--users",
            "2",
            "--duration",
            f"{DURATION_SECONDS}s",
            "--out",
            str(out),
            timeout=DURATION_SECONDS,
        )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [error] = [line for line in result.stderr.splitlines() if line.startswith("poolscope: ")]
    assert "stopped answering" in error
    assert elapsed < DURATION_SECONDS / 2
    [path] = out.glob("*.json")
    run = json.loads(path.read_text())
    assert run["complete"] is False
    reason = run["incomplete_reason"]
    assert reason.startswith(f"{base}/souring/metrics stopped answering: ")
    assert "answered more than 8,192 KB; stopped reading" in reason
    # What was measured before the target went bad is kept: Locust's figures, the samples.
    assert run["locust"]["requests"] > 0
    assert run["pool"]["max_used"] == 1


@pytest.mark.e2e
@pytest.mark.process
@pytest.mark.slow
def test_a_target_gone_bad_ends_a_sweep_partial_with_the_reason(tmp_path: Path) -> None:
    locustfile = tmp_path / "reader.py"
    locustfile.write_text(LOCUSTFILE)
    out = tmp_path / "sweep"
    started = time.monotonic()
    with hostile_target() as base:
        result = run_poolscope(
            "sweep",
            "--locustfile",
            str(locustfile),
            "--host",
            f"{base}/souring",
            "--users",
            "2,4",
            "--duration",
            f"{DURATION_SECONDS}s",
            "--out",
            str(out),
            timeout=DURATION_SECONDS,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert time.monotonic() - started < DURATION_SECONDS / 2
    [path] = out.glob("*-sweep-*.json")
    sweep = load_sweep(path)
    assert sweep.partial
    assert sweep.partial_reason is not None
    assert "answered more than 8,192 KB; stopped reading" in sweep.partial_reason
    [step] = sweep.steps  # the second step never started
    assert not step.complete
    assert step.incomplete_reason is not None
    assert "stopped answering" in step.incomplete_reason
