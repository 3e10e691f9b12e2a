"""``--fail-if``: the grammar, and exit 1 exactly when the condition holds."""

from __future__ import annotations

import json
import operator
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from poolscope.cli._app import app
from poolscope.compare import (
    FailIfError,
    build_comparison,
    evaluate,
    load_runs,
    parse_condition,
)

DATA = Path(__file__).parent.parent / "data" / "runs" / "engine-per-request"
PAIR = [
    *DATA.glob("engine-per-request-global-*.json"),
    *DATA.glob("engine-per-request-per-request-*.json"),
]
COMPARISON = build_comparison(load_runs(PAIR))
OPERATORS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def candidate(key: str, suffix: str = "") -> float | None:
    """The per-request run's figure, read straight from the comparison's JSON."""
    row = next(row for row in COMPARISON.rows if row.key == key)
    if suffix == "":
        return row.cells[1].value
    change = row.changes[1]
    assert change is not None
    return change.ratio if suffix == "_ratio" else change.difference


def exit_code(*conditions: str) -> tuple[int, str]:
    args = ["compare", *map(str, PAIR), "--format", "json"]
    for condition in conditions:
        args += ["--fail-if", condition]
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from([row.key for row in COMPARISON.rows]),
    suffix=st.sampled_from(["", "_ratio", "_diff"]),
    op=st.sampled_from(sorted(OPERATORS)),
    factor=st.sampled_from([0.0, 0.5, 0.999, 1.0, 1.001, 2.0]),
)
def test_exit_1_exactly_when_the_condition_holds(
    key: str, suffix: str, op: str, factor: float
) -> None:
    value = candidate(key, suffix)
    threshold = (value or 1.0) * factor
    code, stderr = exit_code(f"{key}{suffix}{op}{threshold!r}")
    holds = value is not None and OPERATORS[op](value, threshold)
    assert code == (1 if holds else 0), stderr
    assert (f"holds for {COMPARISON.runs[1].label}" in stderr) == holds


def test_and_binds_tighter_than_or() -> None:
    true, false = "connects>1", "connects<1"
    assert exit_code(f"{false} and {true} or {true}")[0] == 1
    assert exit_code(f"{true} or {true} and {false}")[0] == 1
    assert exit_code(f"{false} and {true} or {false}")[0] == 0
    assert exit_code(f"{true} AND {true}")[0] == 1


def test_units_scale_time_thresholds() -> None:
    p50 = candidate("p50")
    assert p50 is not None
    assert exit_code(f"p50>{p50 * 1000 - 1}ms")[0] == 1
    assert exit_code(f"p50>{p50 * 1000 + 1}ms")[0] == 0
    assert exit_code(f"p50>{p50 * 1e6 - 1}us")[0] == 1
    assert exit_code(f"p50 > {p50 - 0.001} s")[0] == 1


def test_the_reason_names_run_figure_and_value() -> None:
    code, stderr = exit_code("connects_diff>0 and timeouts==0")
    assert code == 1
    diff = candidate("connects", "_diff")
    assert diff is not None
    assert stderr == (
        "poolscope: --fail-if 'connects_diff>0 and timeouts==0' holds for per-request: "
        f"connects_diff = +{diff:,.0f}, timeouts = 0\n"
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty expression"),
        ("wait_p95", "expected an operator"),
        ("wait_p95 >", "expected a number"),
        ("wait_p95 > 0.1 timeouts > 0", "expected 'and' or 'or'"),
        ("wait_p95 => 1", "cannot read '=> 1'"),
        ("wait_p95 > 1 and", "expected a figure"),
        ("wait_p95 > 0.1 %", "cannot read '%'"),
        ("> 1", "expected a figure"),
    ],
)
def test_syntax_errors(expression: str, message: str) -> None:
    with pytest.raises(FailIfError, match=re.escape(message)) as caught:
        parse_condition(expression)
    assert "\n" not in str(caught.value)
    assert exit_code(expression)[0] == 2


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("speed > 1", "unknown figure 'speed'; known figures: rps, requests"),
        ("timeouts > 1ms", "a unit only goes with a time figure"),
        ("p95_ratio > 1s", "a unit only goes with a time figure, not a ratio"),
        ("p95[/nowhere] > 1", "no figure 'p95[/nowhere]'"),
    ],
)
def test_names_the_comparison_lacks(expression: str, message: str) -> None:
    with pytest.raises(FailIfError, match=re.escape(message)):
        evaluate(parse_condition(expression), COMPARISON)
    assert exit_code(expression)[0] == 2


def test_endpoint_figures_by_name_with_or_without_method(tmp_path: Path) -> None:
    # A run hitting two endpoints makes per-endpoint rows.
    base = json.loads(PAIR[0].read_text())
    other = json.loads(PAIR[1].read_text())
    other["locust"]["endpoints"].append(base["locust"]["endpoints"][0])
    (tmp_path / "b.json").write_text(json.dumps(other))
    comparison = build_comparison(load_runs([PAIR[0], tmp_path / "b.json"]))
    assert "p95[GET /items]" in [row.key for row in comparison.rows]
    assert evaluate(parse_condition("p95[GET /items] >= 0"), comparison)
    assert evaluate(parse_condition("p95[/items] >= 0"), comparison)
    assert not evaluate(parse_condition("p95[/items] < 0"), comparison)
