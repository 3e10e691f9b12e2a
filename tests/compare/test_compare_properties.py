"""Compare fed random and damaged run files: it answers with exit 0, 1 or 2, never a
traceback."""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from poolscope.cli._app import app

DATA = Path(__file__).parent.parent / "data" / "runs" / "engine-per-request"
(BASE_PATH,) = DATA.glob("engine-per-request-global-*.json")
(OTHER_PATH,) = DATA.glob("engine-per-request-per-request-*.json")
BASE = json.loads(BASE_PATH.read_text())
OTHER_TEXT = OTHER_PATH.read_text()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def paths_in(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths_in(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths_in(value, (*prefix, index))
    return found


PATHS = paths_in(BASE)


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = replaced(document[path[0]], path[1:], value)  # type: ignore[call-overload]
    return copy


damaged_documents = st.builds(
    replaced,
    st.just(BASE),
    st.sampled_from(PATHS),
    st.one_of(
        json_values,
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**6), max_value=10**9),
    ),
)


def damage(document: Any, damages: list[tuple[tuple[Any, ...], Any]]) -> Any:
    for path, value in damages:
        # An earlier damage may have removed this place.
        with contextlib.suppress(KeyError, IndexError, TypeError):
            document = replaced(document, path, value)
    return document


many_damages = st.lists(
    st.tuples(
        st.sampled_from(PATHS),
        st.one_of(
            json_values,
            st.integers(min_value=-(10**6), max_value=10**9),
            st.datetimes().map(lambda moment: moment.isoformat()),
        ),
    ),
    min_size=1,
    max_size=4,
)


def run_compare(first: str, *arguments: str) -> int:
    with tempfile.TemporaryDirectory() as directory:
        a, b = Path(directory) / "a.json", Path(directory) / "b.json"
        a.write_text(first)
        b.write_text(OTHER_TEXT)
        result = CliRunner().invoke(app, ["compare", str(b), str(a), *arguments])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1, result.stderr
    return result.exit_code


FORMATS = st.sampled_from(["table", "markdown", "json", "html"])
CONDITIONS = st.sampled_from(["wait_p95>0.1", "timeouts>0", "p95_ratio>1.2", "rps_diff<0"])
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(document=damaged_documents, output=FORMATS, condition=CONDITIONS)
def test_damaged_values_never_raise(document: Any, output: str, condition: str) -> None:
    text = json.dumps(document, allow_nan=True)
    run_compare(text, "--format", output, "--fail-if", condition)


@SETTINGS
@given(cut=st.integers(min_value=0, max_value=len(OTHER_TEXT)), output=FORMATS)
def test_truncated_files_are_exit_2(cut: int, output: str) -> None:
    code = run_compare(OTHER_TEXT[:cut], "--format", output)
    assert code == (0 if cut >= len(OTHER_TEXT.rstrip()) else 2)


@SETTINGS
@given(document=json_values, output=FORMATS)
def test_random_json_is_exit_2(document: Any, output: str) -> None:
    assert run_compare(json.dumps(document), "--format", output) == 2


@SETTINGS
@given(
    scale=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    output=FORMATS,
)
def test_valid_runs_of_any_size_compare(scale: float, output: str) -> None:
    document = json.loads(OTHER_TEXT)
    locust = document["locust"]
    locust["requests_per_second"] *= scale
    locust["latency_ms"] = {k: v * scale for k, v in locust["latency_ms"].items()}
    assert not math.isnan(locust["requests_per_second"])
    assert run_compare(json.dumps(document), "--format", output) == 0


@SETTINGS
@given(first=many_damages, second=many_damages, output=FORMATS, condition=CONDITIONS)
def test_damaged_directories_never_raise(
    first: list[tuple[tuple[Any, ...], Any]],
    second: list[tuple[tuple[Any, ...], Any]],
    output: str,
    condition: str,
) -> None:
    other = json.loads(OTHER_TEXT)
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "a.json").write_text(json.dumps(damage(BASE, first), allow_nan=True))
        Path(directory, "b.json").write_text(json.dumps(damage(other, second), allow_nan=True))
        result = CliRunner().invoke(
            app, ["compare", directory, "--format", output, "--fail-if", condition]
        )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1, result.stderr


def test_a_start_time_out_of_range_still_sorts() -> None:
    other = json.loads(OTHER_TEXT)
    other["started_at"] = "0001-01-01T00:00:00"  # naive: no local timestamp exists
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "a.json").write_text(json.dumps(BASE))
        Path(directory, "b.json").write_text(json.dumps(other))
        result = CliRunner().invoke(app, ["compare", directory, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"label": "per-request"' in result.stdout.split('"label": "global"')[0]
