"""A step's figures from its run file, the sweep file, its HTML page, the CLI's parsing,
and the max_connections warning read from a real server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from poolscope._errors import PoolscopeError
from poolscope.cli.sweep import parse_sizes, parse_wait
from poolscope.loadtest._environment import max_connections
from poolscope.readings import PoolSample, RouteHolds, write_run
from poolscope.sweep import (
    Step,
    Sweep,
    SweepConfiguration,
    SweepFileError,
    connection_warning,
    load_sweep,
    load_window,
    recommend,
    render_html,
    step_from_run,
    write_report,
    write_sweep,
)
from tests.support.runs import minimal_run


def sample(t: float, checkouts: int, used: int) -> PoolSample:
    return PoolSample(
        t=t,
        used=used,
        idle=0,
        pending=0,
        overflow=0,
        checkouts=checkouts,
        timeouts=0,
        connects=0,
        pools_created=0,
        wait_count=checkouts,
        wait_sum=0.0,
    )


# Locust starting (no checkouts), the load (20 checkouts per 0.5 s), its end, the settle.
SAMPLES = [
    sample(0.0, 0, 0),
    sample(0.5, 0, 0),
    sample(1.0, 10, 2),
    sample(1.5, 30, 4),
    sample(2.0, 50, 4),
    sample(2.5, 70, 4),
    sample(3.0, 75, 0),
    sample(3.5, 75, 0),
]


def test_the_load_window_leaves_out_start_up_the_load_s_end_and_the_settle() -> None:
    assert [s.t for s in load_window(SAMPLES)] == [1.0, 1.5, 2.0, 2.5]
    assert load_window(SAMPLES[:2]) == []


def test_a_step_reads_rate_and_mean_used_over_the_window() -> None:
    run = minimal_run().model_copy(update={"samples": SAMPLES, "complete": True})
    figures = step_from_run(run, "run.json")
    assert figures.checkout_rate == pytest.approx(60 / 1.5)
    assert figures.mean_used == pytest.approx((2 * 0.5 + 4 * 0.5 + 4 * 0.5) / 1.5)
    assert figures.pool_size == run.configuration.pool_size
    assert figures.requests == 0  # no Locust totals in this run
    assert figures.littles_busy is None  # no use times either


def a_sweep(steps: list[Step]) -> Sweep:
    now = datetime.now(UTC)
    return Sweep(
        scenario="steady",
        partial=False,
        started_at=now,
        finished_at=now,
        wall_seconds=30.0,
        configuration=SweepConfiguration(
            parameter="pool_size",
            values=[s.pool_size for s in steps],
            duration_seconds=6,
            users=8,
            pool_size=None,
            max_overflow=0,
            target_wait_p95=0.25,
            driver="psycopg2",
            database_url="postgresql://postgres:***@127.0.0.1:5432/postgres",
            service_workers=1,
        ),
        max_connections=100,
        steps=steps,
        recommendation=recommend(steps, "pool_size", 0.25),
    )


def figures(pool_size: int, throughput: float, wait_p95: float) -> Step:
    return Step(
        pool_size=pool_size,
        users=8,
        run_file=f"pool-{pool_size}.json",
        complete=True,
        requests=100,
        failures=0,
        throughput=throughput,
        latency_p50_ms=100.0,
        latency_p95_ms=150.0,
        wait_p50=wait_p95 / 2,
        wait_p95=wait_p95,
        checkouts=100,
        checkout_rate=throughput,
        mean_use=0.05,
        mean_used=float(pool_size),
        max_used=pool_size,
        max_pending=8 - pool_size,
        pool_limit=pool_size,
        timeouts=0,
    )


STEPS = [figures(1, 19.0, 0.4), figures(2, 38.0, 0.2), figures(4, 75.0, 0.09)]


def test_the_sweep_file_reads_back_and_refuses_other_files(tmp_path: Path) -> None:
    sweep = a_sweep(STEPS)
    path = write_sweep(sweep, tmp_path / "sweep.json")
    assert '"schema": "poolscope.sweep/1"' in path.read_text()
    assert load_sweep(path) == sweep
    run_file = write_run(minimal_run(), tmp_path / "run.json")
    with pytest.raises(SweepFileError, match=r"run\.json: not a poolscope\.sweep/1 sweep file"):
        load_sweep(run_file)


def test_the_page_charts_each_figure_against_the_pool_sizes() -> None:
    page = render_html(a_sweep(STEPS))
    assert page.count("<svg") == 3
    for title in ("throughput", "latency p50 / p95", "pool wait p95"):
        assert f"{title} against pool size" in page
    labels = re.findall(r'text-anchor="middle">(\d+)</text>', page)
    assert labels[:3] == ["1", "2", "4"]
    assert "Recommended pool size: 4" in page
    assert "src=" not in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_terminal_report_shows_every_figure_whole_in_80_columns() -> None:
    steps = [
        figures(1, 19.1, 0.489),
        figures(2, 38.0, 0.243),
        figures(16, 1240.5, 0.0),
    ]
    steps[2] = steps[2].model_copy(
        update={"requests": 12000, "failures": 120, "latency_p95_ms": 1500.0, "max_pending": 0}
    )
    console = Console(width=80, record=True, force_terminal=False)
    write_report(a_sweep(steps), console)
    report = console.export_text()
    assert "…" not in report
    table = report.split("p50/p95: Locust")[0]
    assert max(len(line.rstrip()) for line in table.splitlines()) <= 80
    row = next(line.split() for line in table.splitlines() if line.lstrip().startswith("16 "))
    assert row == [
        "16",
        "8",
        "1240.5",
        "×32.64",
        "100/1500",
        "0",
        "50.0",
        "62.03",
        "16.00/16",
        "0",
        "120/12000",
    ]


def test_cli_values() -> None:
    assert parse_sizes("1,2,4", "--pool-sizes") == (1, 2, 4)
    assert parse_wait("50ms") == pytest.approx(0.05)
    assert parse_wait("0.2s") == pytest.approx(0.2)
    assert parse_wait("1") == 1.0
    with pytest.raises(PoolscopeError, match="cannot read --pool-sizes 'a,b'"):
        parse_sizes("a,b", "--pool-sizes")
    with pytest.raises(PoolscopeError, match="at least 1"):
        parse_sizes("0,2", "--pool-sizes")
    with pytest.raises(PoolscopeError, match="cannot read wait target"):
        parse_wait("fast")


def test_warns_when_the_workers_pools_exceed_the_server_s_max_connections(
    database_url: str,
) -> None:
    server_max = max_connections(database_url)
    assert server_max is not None
    assert server_max > 4
    assert connection_warning(server_max, workers=1, largest_pool=2, overflow=1) is None
    pools = server_max // 2 + 1
    warning = connection_warning(server_max, workers=2, largest_pool=pools - 1, overflow=1)
    assert warning is not None
    assert f"= {2 * pools} connections exceed the server's max_connections ({server_max})" in (
        warning
    )


def test_the_reports_show_each_steps_busy_share_and_routes() -> None:
    route = RouteHolds(
        route="/held-idle/[across]",
        holds=10,
        held_seconds=5.0,
        statement_seconds=0.05,
        statements=10,
    )
    step = figures(4, 8.0, 1.2).model_copy(update={"busy_share": 0.01, "routes": [route]})
    console = Console(width=200, record=True, force_terminal=False)
    write_report(a_sweep([step]), console)
    line = (
        "pool 4, 8 users, busy 1.0 % (in statements): "
        "/held-idle/[across]: 10 holds, 500 ms per hold, busy 1.0 %"
    )
    assert line in console.export_text()
    page = render_html(a_sweep([step]))
    assert "<th>busy % (in statements)</th>" in page
    assert "/held-idle/[across]: 10 holds, 500 ms per hold, busy 1.0 %" in page


def test_a_step_that_measured_nothing_shows_no_data_never_a_dash_or_0() -> None:
    # A step interrupted before its Locust completed a request or its pool a checkout.
    unmeasured = ["latency_p50_ms", "latency_p95_ms", "wait_p50", "wait_p95", "checkout_rate"]
    unmeasured += ["mean_use", "mean_used"]
    stopped = {"complete": False, "incomplete_reason": "interrupted", "max_pending": 0}
    nothing = figures(8, 0.0, 0.0).model_copy(
        update={**dict.fromkeys(unmeasured), "requests": 0, "checkouts": 0, "max_used": 0}
    )
    sweep = a_sweep([*STEPS, nothing.model_copy(update=stopped)])
    console = Console(width=80, record=True, force_terminal=False)
    write_report(sweep, console)
    report = console.export_text()
    table = report.split("p50/p95: Locust")[0]
    assert "–" not in table
    assert "…" not in table
    assert max(len(line.rstrip()) for line in table.splitlines()) <= 80
    # Over two lines in a cell: the row's eleven columns stay within 80.
    lines = table.splitlines()
    row = next(i for i, line in enumerate(lines) if line.lstrip().startswith("8* "))
    assert lines[row].split() == ["8*", "8", "0.0", "×0.00", *["no"] * 5, "0", "0/0"]
    assert lines[row + 1].split() == [*["data"] * 4, "data/0"]
    assert "* pool 8: incomplete: interrupted" in report.splitlines()
    page = render_html(sweep)
    [cells] = re.findall(r"<tr><td>8 \(incomplete\)</td>(.*?)</tr>", page)
    shown = re.findall(r"<td>(.*?)</td>", cells)
    # Latency p50 and p95, wait p95, held, busy share, L = λ·W, used mean.
    assert shown == ["8", "0.0", *["no data"] * 7, "0 of 8", "0", "0 / 0"]
