"""The run-file contract: written atomically, read back equal, and refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from poolscope.loadtest import (
    SCHEMA,
    Histogram,
    LeakReport,
    PoolSummary,
    RunFileError,
    TimingSummary,
    load_run,
    write_run,
)
from tests.support.runs import minimal_run


def test_round_trip(tmp_path: Path) -> None:
    run = minimal_run()
    path = write_run(run, tmp_path / "runs" / "a.json")
    assert json.loads(path.read_text())["schema"] == SCHEMA
    assert load_run(path) == run
    assert not list(tmp_path.glob("runs/*.partial"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON, or truncated"),
        ("[]", "no schema field"),
        ('{"schema": "poolscope.run/9"}', "unknown run file schema"),
        ('{"schema": "poolscope.run/1", "scenario": 3}', "invalid run file"),
    ],
)
def test_bad_files_give_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RunFileError, match=message) as caught:
        load_run(path)
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RunFileError, match="no such file"):
        load_run(tmp_path / "absent.json")


def test_histogram_inf_bound_round_trips(tmp_path: Path) -> None:
    histogram = Histogram(upper_bounds=[0.5, 1.0, float("inf")], counts=[3, 1, 2], sum=7.5)
    run = minimal_run().model_copy(
        update={
            "pool": PoolSummary(
                wait=TimingSummary(count=6, sum=7.5, p50=0.5, p95=1.0, p99=1.0, max=1.0),
                use=TimingSummary(count=0, sum=0.0, p50=None, p95=None, p99=None, max=None),
                wait_histogram=histogram,
                checkouts=6,
                timeouts=0,
                connects=1,
                pools_created=1,
                max_used=1,
                max_idle=1,
                max_pending=0,
                max_overflow=0,
                final_used=0,
                final_overflow=0,
            )
        }
    )
    loaded = load_run(write_run(run, tmp_path / "inf.json"))
    assert loaded.pool is not None
    assert loaded.pool.wait_histogram == histogram


def test_leak_reports_are_optional_and_round_trip(tmp_path: Path) -> None:
    summary = PoolSummary(
        wait=TimingSummary(count=0, sum=0.0, p50=None, p95=None, p99=None, max=None),
        use=TimingSummary(count=0, sum=0.0, p50=None, p95=None, p99=None, max=None),
        checkouts=1,
        timeouts=0,
        connects=1,
        pools_created=1,
        max_used=1,
        max_idle=0,
        max_pending=0,
        max_overflow=0,
        final_used=1,
        final_overflow=0,
    )
    assert summary.leak_reports == []
    report = LeakReport(
        route="/antipatterns/leak", borrower='  File "x.py", line 1', age_seconds=1.5
    )
    run = minimal_run().model_copy(
        update={"pool": summary.model_copy(update={"leak_reports": [report]})}
    )
    loaded = load_run(write_run(run, tmp_path / "leak.json"))
    assert loaded.pool is not None
    assert loaded.pool.leak_reports == [report]
