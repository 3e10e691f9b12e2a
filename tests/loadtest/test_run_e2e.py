"""`poolscope run` end to end: a real service, real Locust, real PostgreSQL; each scenario's
check must pass, and a run whose service dies must end cleanly, recorded as incomplete."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poolscope._urls import url_for_driver
from poolscope.loadtest import Run, load_run
from tests.support.processes import alive, descendants, interruptible
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]

HOLD = 1.0  # seconds pool-saturation holds each connection


def poolscope_run(
    database_url: str, out: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "poolscope",
            "run",
            *arguments,
            "--out",
            str(out),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


def runs_in(out: Path) -> dict[str, Run]:
    return {run.variant: run for run in map(load_run, sorted(out.glob("*.json")))}


def assert_passed(result: subprocess.CompletedProcess[str], out: Path, database_url: str) -> None:
    runs = runs_in(out)
    assert result.returncode == 0, result.stdout + result.stderr
    for run in runs.values():
        assert run.complete, run.incomplete_reason
        assert run.check is not None
        assert run.check.passed, "\n".join([run.check.verdict, *run.check.details, result.stdout])
    password = url_for_driver(database_url, "psycopg2").password
    assert password
    assert password not in result.stdout + result.stderr
    for path in out.glob("*.json"):
        assert password not in path.read_text()


def printed_ms(stdout: str, row: str) -> list[float]:
    """The p50 / p95 / max figures of a row of the printed summary, in seconds; a maximum
    read from the buckets would be printed with ``≈`` and fail to parse here."""
    match = re.search(re.escape(row) + r"\s*\S\s*([\d.]+) / ([\d.]+) / ([\d.]+)", stdout)
    assert match is not None, f"no {row!r} row in:\n{stdout}"
    return [float(figure) / 1000 for figure in match.groups()]


def within_10_percent(figure: float | None, truth: float) -> bool:
    return figure is not None and abs(figure - truth) <= 0.10 * truth


def test_pool_saturation_figures_match_the_hold(database_url: str, tmp_path: Path) -> None:
    # On asyncpg: the sync pool's figures on psycopg2 are proven by the same /hold waits
    # in test_service_serve.py, and the run's reading of them is the same for every driver.
    driver = "asyncpg"
    result = poolscope_run(
        database_url, tmp_path, "pool-saturation", "--duration", "8s", "--driver", driver
    )
    runs = runs_in(tmp_path)
    assert list(runs) == ["default"]
    assert_passed(result, tmp_path, database_url)
    run = runs["default"]
    assert run.locust is not None
    assert run.locust.endpoints[0].response_times  # Locust's own record, for compare's CIs
    assert run.pool is not None
    assert run.pool.max_pending >= 1
    assert "as expected" in result.stdout
    assert run.configuration.driver == driver
    # Every connection is held 1.0 s (pg_sleep(1)); the 11th checkout of a wave waits for
    # the first of them to come back: about 1.0 s too.
    wait, use = run.pool.wait, run.pool.use
    assert wait.max_exact
    assert use.max_exact
    stored = {"wait max": wait.max, "wait p95": wait.p95, "use p50": use.p50, "use max": use.max}
    assert all(within_10_percent(figure, HOLD) for figure in stored.values()), stored
    # Locust's clock agrees: no request was served faster than its hold, and the slowest
    # one waited for its connection, then held it.
    latency = run.locust.latency_ms
    assert latency.min / 1000 >= use.p50 * 0.9
    assert within_10_percent(wait.max + use.p50, latency.max / 1000), latency
    wait_p50, wait_p95, wait_max = printed_ms(result.stdout, "wait p50 / p95 / max ms")
    use_p50, _use_p95, use_max = printed_ms(result.stdout, "use p50 / p95 / max ms")
    printed = {"wait max": wait_max, "wait p95": wait_p95, "use p50": use_p50, "use max": use_max}
    assert all(within_10_percent(figure, HOLD) for figure in printed.values()), printed
    assert wait_p50 < 0.01  # ten of eleven find a connection at once


def test_session_leak_waits_last_the_pool_timeout_on_psycopg(
    database_url: str, tmp_path: Path
) -> None:
    # Leaked sessions fill the pool in about a second; from then on every checkout waits
    # the pool timeout and gives up: most waits are that long. The idle checkouts before
    # the pool fills and the waits the final release cuts short are the rest: enough
    # users and seconds keep them a minority however loaded the machine is. The fixed
    # variant's check is proven on a recorded run (test_scenario_checks.py).
    arguments = ["--variant", "leaky", "--users", "20", "--duration", "16s"]
    result = poolscope_run(
        database_url, tmp_path, "session-leak", *arguments, "--driver", "psycopg"
    )
    assert list(runs_in(tmp_path)) == ["leaky"]
    assert_passed(result, tmp_path, database_url)
    leaky = runs_in(tmp_path)["leaky"]
    assert leaky.configuration.driver == "psycopg"
    pool = leaky.pool
    assert pool is not None
    timeout = leaky.configuration.pool_timeout
    assert pool.timeouts > pool.wait.count / 2, (pool.timeouts, pool.wait.count)
    assert within_10_percent(pool.wait.p50, timeout), pool.wait
    assert within_10_percent(pool.wait.max, timeout), pool.wait
    wait_p50, _wait_p95, wait_max = printed_ms(result.stdout, "wait p50 / p95 / max ms")
    assert within_10_percent(wait_p50, timeout), result.stdout
    assert within_10_percent(wait_max, timeout), result.stdout


# Each driver plays at least one scenario: asyncpg and psycopg 3 above, psycopg2 (the
# default) in depends-deadlock below, in `compare --scenario engine-per-request`
# (test_compare.py) and in `sweep steady` (test_sweep_e2e.py), psycopg 3 async below.


def test_overflow_burst_on_psycopg_async_with_two_locust_processes(
    database_url: str, tmp_path: Path
) -> None:
    result = poolscope_run(
        database_url,
        tmp_path,
        "overflow-burst",
        "--duration",
        "8s",
        "--processes",
        "2",
        "--driver",
        "psycopg_async",
    )
    runs = runs_in(tmp_path)
    assert_passed(result, tmp_path, database_url)
    assert runs["default"].configuration.processes == 2
    assert runs["default"].configuration.driver == "psycopg_async"


def start_and_watch(
    database_url: str, out: Path, *, until: str
) -> tuple[subprocess.Popen[str], int, set[int]]:
    """`poolscope run pool-saturation` until a line of its output matches ``until``: the
    process, its service's pid, and every process it started."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "poolscope",
            "run",
            "pool-saturation",
            "--duration",
            "30s",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "POOLSCOPE_DATABASE_URL": database_url},
        preexec_fn=interruptible,
    )
    assert process.stdout is not None
    service_pid = None
    deadline = time.monotonic() + 90
    for line in process.stdout:
        if match := re.search(r"started the service \(pid (\d+)\)", line):
            service_pid = int(match.group(1))
        if re.search(until, line) or time.monotonic() > deadline:
            break
    assert service_pid is not None

    def both_started() -> bool:  # the service and Locust
        found = descendants(process.pid)
        return service_pid in found and len(found) >= 2

    wait_until(both_started, timeout=20)
    return process, service_pid, descendants(process.pid)


def test_killing_the_service_ends_the_run_cleanly(database_url: str, tmp_path: Path) -> None:
    process, service_pid, started = start_and_watch(database_url, tmp_path, until="^playing")
    os.kill(service_pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stdout + stderr
    assert f"the service (pid {service_pid}) exited" in stderr
    (run,) = runs_in(tmp_path).values()
    assert not run.complete
    assert run.incomplete_reason is not None
    assert "exited" in run.incomplete_reason
    # An incomplete run is never judged as passed, and says what could not be judged.
    assert run.check is not None
    assert not run.check.passed
    assert run.check.verdict.startswith("not judged")
    assert any("incomplete" in detail for detail in run.check.details)
    assert f"the service (pid {service_pid}) had died" in stdout + stderr
    assert "stopped the service" not in stdout + stderr
    assert run.samples  # what was sampled before the crash is kept
    assert len(list(tmp_path.glob("*.service.log"))) == 1  # beside the run file, to debug
    wait_until(lambda: not any(alive(pid) for pid in started), timeout=5)


def test_ctrl_c_stops_everything_and_keeps_the_partial_run(
    database_url: str, tmp_path: Path
) -> None:
    # Once Locust has finished some requests (the progress lines count them).
    process, _service_pid, started = start_and_watch(
        database_url, tmp_path, until=r" [1-9]\d* requests"
    )
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stdout + stderr
    assert "interrupted" in stderr
    (run,) = runs_in(tmp_path).values()
    assert not run.complete
    assert run.incomplete_reason == "interrupted"
    assert run.check is not None
    assert not run.check.passed
    assert "interrupted" in " ".join(run.check.details)
    assert run.locust is not None  # Locust's statistics so far, written as it stopped
    assert run.locust.requests > 0
    wait_until(lambda: not any(alive(pid) for pid in started), timeout=5)


def test_depends_deadlock_names_the_starved_thread_pool(database_url: str, tmp_path: Path) -> None:
    result = poolscope_run(database_url, tmp_path, "depends-deadlock", "--duration", "10s")
    runs = runs_in(tmp_path)
    assert set(runs) == {"depends", "fixed"}
    assert_passed(result, tmp_path, database_url)
    depends, fixed = runs["depends"].pool, runs["fixed"].pool
    assert depends is not None
    assert fixed is not None
    assert (depends.thread_limit, depends.max_threads_busy) == (8, 8)
    assert depends.starved_idle_connections == 5
    assert fixed.starved_seconds == 0
    assert runs["depends"].samples[-1].threads_busy is not None
    check = runs["fixed"].check
    assert check is not None
    cause = "threads 8/8 busy, all waiting for a connection; 5 connections checked out and idle"
    assert f"depends deadlocked: {cause}" in check.verdict
    assert check.verdict.endswith("the thread pool is starved, not the pool")
    assert "depends: threads 8/8 busy" in result.stdout
    assert "max threads busy / limit" in result.stdout
    compare = subprocess.run(
        [sys.executable, "-m", "poolscope", "compare", *map(str, sorted(tmp_path.glob("*.json")))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert compare.returncode == 0, compare.stderr
    output = " ".join(compare.stdout.split())
    assert "depends deadlocked: threads 8/8 busy" in output, compare.stdout
    assert "fixed: no deadlock, the thread pool never starved." in output, compare.stdout
