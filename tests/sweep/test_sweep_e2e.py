"""`poolscope sweep steady` end to end against the real sample service, Locust and
PostgreSQL: throughput doubles with the pool while users wait, the recommendation is the
size that serves them, and Little's law agrees with the sampled gauge. Ctrl-C keeps the
finished steps."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poolscope._urls import url_for_driver
from poolscope.loadtest import load_run
from poolscope.sweep import load_sweep
from tests.support.processes import alive, descendants, interruptible
from tests.support.runs import run_poolscope
from tests.support.scenario_checks import Case, evaluate
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]


def test_steady_throughput_doubles_with_the_pool_and_four_is_recommended(
    database_url: str, tmp_path: Path
) -> None:
    # 8 users on 50 ms holds: pools of 1, 2 and 4 serve ~20, ~40 and ~80 requests/s. With
    # 8 users on 4 connections each request waits about one hold: the target allows it.
    # Each step warms up 1 s first: its figures, and so the recommendation, leave it out.
    page = tmp_path / "sweep.html"
    arguments = ["--pool-sizes", "1,2,4", "--users", "8", "--duration", "6s", "--warmup", "1s"]
    arguments += ["--target-wait-p95", "250ms", "--database-url", database_url]
    result = run_poolscope("sweep", "steady", "--out", str(page), *arguments)
    assert result.returncode == 0, result.stdout + result.stderr
    (sweep_file,) = tmp_path.glob("steady-sweep-*.json")
    sweep = load_sweep(sweep_file)
    assert not sweep.partial
    assert [step.pool_size for step in sweep.steps] == [1, 2, 4]
    runs = {step.pool_size: load_run(tmp_path / step.run_file) for step in sweep.steps}
    for step in sweep.steps:
        run = runs[step.pool_size]  # each step is a poolscope.run/1 file
        assert run.complete, run.incomplete_reason
        assert run.configuration.pool_size == step.pool_size
        assert run.configuration.users == 8
        assert step.failures == 0
        # The step's figures are those after its warm-up; the run file keeps the whole run's.
        assert run.warmup is not None
        assert run.warmup.seconds == 1
        assert run.warmup.ended_at is not None
        assert run.locust is not None
        assert run.pool is not None
        assert run.warmup.locust is not None
        assert run.warmup.pool is not None
        assert step.requests == run.locust.requests < run.warmup.locust.requests
        assert step.checkouts == run.pool.checkouts < run.warmup.pool.checkouts
        # The sample service's sync routes run in a thread pool of 40: never the limit here.
        assert step.thread_limit == 40
        assert step.max_busy_threads is not None
        assert 1 <= step.max_busy_threads <= 8
    # Pool 4 and 8 users is the steady scenario as `poolscope run steady` plays it: its
    # own check holds on that step (min(pool, users) / 0.05 s).
    (check,) = evaluate([Case("steady", {"default": runs[4]})])
    assert check.passed, "\n".join([check.verdict, *check.details])
    throughputs = [step.throughput for step in sweep.steps]
    for smaller, larger in itertools.pairwise(throughputs):
        assert 1.5 <= larger / smaller <= 2.5, throughputs
    recommendation = sweep.recommendation
    assert recommendation is not None
    assert recommendation.recommended == 4, recommendation.text
    littles = recommendation.littles_law
    assert littles is not None
    assert littles.pool_size == 4
    # The sampled "used" gauge, averaged over the load: measured apart from λ and W.
    assert littles.measured_mean_used is not None
    assert littles.busy == pytest.approx(littles.measured_mean_used, rel=0.2)
    assert "Recommended pool size: 4" in result.stdout.replace("\n", " ")
    assert sweep.max_connections is not None
    assert sweep.configuration.warmup_seconds == 1
    html = page.read_text()
    assert html.count("<svg") == 3
    password = url_for_driver(database_url, "psycopg2").password
    assert password
    for text in (result.stdout, result.stderr, sweep_file.read_text(), html):
        assert password not in text


def test_ctrl_c_keeps_the_finished_steps_and_a_partial_sweep_file(
    database_url: str, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "poolscope", "sweep", "steady", "--out", str(tmp_path)]
    process = subprocess.Popen(
        [*command, "--pool-sizes", "1,2,4", "--duration", "4s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "POOLSCOPE_DATABASE_URL": database_url},
        preexec_fn=interruptible,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    services: list[int] = []
    # Interrupted while the second step plays: the first is finished, the third never runs.
    for line in process.stdout:
        if match := re.search(r"started the service \(pid (\d+)\)", line):
            services.append(int(match.group(1)))
        if (len(services) == 2 and line.startswith("playing")) or time.monotonic() > deadline:
            break
    assert len(services) == 2

    def both_started() -> bool:  # the second step's service and its Locust
        found = descendants(process.pid)
        return services[1] in found and len(found) >= 2

    wait_until(both_started, timeout=20)
    started = descendants(process.pid)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stdout + stderr
    assert "partial sweep: interrupted" in stderr
    (sweep_file,) = tmp_path.glob("steady-sweep-*.json")
    sweep = load_sweep(sweep_file)
    assert sweep.partial
    finished, interrupted = sweep.steps
    assert (finished.pool_size, finished.complete) == (1, True)
    assert finished.requests > 0
    assert (interrupted.pool_size, interrupted.complete) == (2, False)
    assert interrupted.incomplete_reason == "interrupted"
    assert sweep.recommendation is not None
    assert sweep.recommendation.best == 1  # from the finished step alone
    assert len(list(tmp_path.glob("steady-pool-*.json"))) == 2
    wait_until(lambda: not any(alive(pid) for pid in started), timeout=5)
