"""``--fail-if``: conditions on a comparison that make ``poolscope compare`` exit 1.

Grammar (case-insensitive keywords, whitespace free)::

    condition := clause { ("and" | "or") clause }       "and" binds tighter than "or"
    clause    := figure operator number [unit]
    figure    := key [ "_ratio" | "_diff" ] [ "[" endpoint "]" ]
    operator  := ">" | ">=" | "<" | "<=" | "==" | "!="
    unit      := "us" | "ms" | "s"                        only for time figures

``endpoint`` is a name as the run file holds it, brackets included when they pair up
(``p95[POST /api/v1/items/ [create]]``); a name whose brackets do not pair up is quoted
inside the brackets, with either quote it does not contain (``p95["GET /a]b"]``).
``key`` is a row key (``rps``, ``p95``, ``wait_p95``, ``timeouts`` ...). A plain figure is
the run's own value (times in seconds unless a unit is given); ``_ratio`` is the run's
value divided by the baseline's, ``_diff`` the run's value minus the baseline's. The
condition is tested on each run except the baseline and holds when it holds for any of
them; a figure a run lacks makes its clause false.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from poolscope._errors import PoolscopeError
from poolscope.compare._format import format_difference, format_ratio, format_value
from poolscope.compare._model import Comparison, Row

__all__ = ["Condition", "FailIfError", "evaluate", "parse_condition"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
SUFFIXES = ("_ratio", "_diff")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<operator>>=|<=|==|!=|>|<)
      | (?P<word>[A-Za-zµ_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


class FailIfError(PoolscopeError):
    """A ``--fail-if`` expression that cannot be read or names no figure (exit 2)."""


@dataclass(frozen=True, kw_only=True)
class Clause:
    text: str
    key: str  # the row key, endpoint included
    suffix: str  # "", "_ratio" or "_diff"
    operator: str
    threshold: float
    unit: str | None


@dataclass(frozen=True, kw_only=True)
class Condition:
    text: str
    # Disjunctive normal form: holds when every clause of any one group holds.
    groups: tuple[tuple[Clause, ...], ...]


def _endpoint(expression: str, text: str, start: int) -> tuple[str, int]:
    """The ``[endpoint]`` that opens at ``start``: its name in brackets, and where it ends."""
    inner = start + 1
    while inner < len(text) and text[inner] == " ":
        inner += 1
    if inner < len(text) and text[inner] in "\"'":
        close = text.find(text[inner], inner + 1)
        end = close + 1
        while 0 < end < len(text) and text[end] == " ":
            end += 1
        if close < 0 or end >= len(text) or text[end] != "]":
            raise FailIfError(
                f"--fail-if {expression!r}: a quoted endpoint name ends with its quote and then ']'"
            )
        return f"[{text[inner + 1 : close]}]", end + 1
    depth = 0
    for position in range(start, len(text)):
        depth += {"[": 1, "]": -1}.get(text[position], 0)
        if depth == 0:
            return text[start : position + 1], position + 1
    raise FailIfError(
        f"--fail-if {expression!r}: the endpoint's brackets do not pair up; quote a name "
        'with unpaired brackets, e.g. p95["GET /a]b"]'
    )


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    stripped = expression.rstrip()
    while position < len(stripped):
        while stripped[position].isspace():
            position += 1
        if stripped[position] == "[":
            endpoint, position = _endpoint(expression, stripped, position)
            tokens.append(("endpoint", endpoint))
            continue
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise FailIfError(
                f"--fail-if {expression!r}: cannot read {stripped[position:].strip()!r}"
            )
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_condition(expression: str) -> Condition:
    tokens = _tokens(expression)
    if not tokens:
        raise FailIfError("--fail-if: empty expression")
    groups: list[list[Clause]] = [[]]
    index = 0
    while True:
        clause, index = _clause(expression, tokens, index)
        groups[-1].append(clause)
        if index == len(tokens):
            break
        kind, value = tokens[index]
        if kind != "word" or value.lower() not in ("and", "or"):
            raise FailIfError(f"--fail-if {expression!r}: expected 'and' or 'or' before {value!r}")
        if value.lower() == "or":
            groups.append([])
        index += 1
    return Condition(text=expression, groups=tuple(tuple(group) for group in groups))


def _clause(expression: str, tokens: list[tuple[str, str]], index: int) -> tuple[Clause, int]:
    def expect(kind: str, what: str) -> str:
        nonlocal index
        if index >= len(tokens) or tokens[index][0] != kind:
            found = "the end" if index >= len(tokens) else repr(tokens[index][1])
            raise FailIfError(f"--fail-if {expression!r}: expected {what}, found {found}")
        index += 1
        return tokens[index - 1][1]

    start = index
    name = expect("word", "a figure such as wait_p95")
    suffix = next((s for s in SUFFIXES if name.endswith(s)), "")
    key = name[: len(name) - len(suffix)]
    if index < len(tokens) and tokens[index][0] == "endpoint":
        key += expect("endpoint", "[endpoint]")
    comparison = expect("operator", "an operator (> >= < <= == !=)")
    number = expect("number", "a number")
    unit = None
    if index < len(tokens) and tokens[index][0] == "word" and tokens[index][1] in UNITS:
        unit = expect("word", "a unit")
    threshold = float(number) * (UNITS[unit] if unit else 1.0)
    text = " ".join(value for _, value in tokens[start:index])
    clause = Clause(
        text=text, key=key, suffix=suffix, operator=comparison, threshold=threshold, unit=unit
    )
    return clause, index


def _resolve(row_keys: Sequence[str], clause: Clause) -> str:
    if clause.key in row_keys:
        return clause.key
    if "[" in clause.key:
        # An endpoint may be named without its method: p95[/items].
        base, endpoint = clause.key.split("[", 1)
        matches = [k for k in row_keys if k.startswith(base + "[") and k.endswith(" " + endpoint)]
        if len(matches) == 1:
            return matches[0]
        raise FailIfError(
            f"--fail-if: no figure {clause.key!r} in this comparison (per-endpoint rows "
            "appear when a run hits more than one endpoint)"
        )
    known = ", ".join(k for k in row_keys if "[" not in k)
    raise FailIfError(f"--fail-if: unknown figure {clause.key!r}; known figures: {known}")


def _check_units(row: Row, clause: Clause) -> None:
    if clause.unit is not None and (row.unit != "seconds" or clause.suffix == "_ratio"):
        raise FailIfError(
            f"--fail-if {clause.text!r}: a unit only goes with a time figure, not a "
            f"{'ratio' if clause.suffix == '_ratio' else row.unit.replace('_', ' ')}"
        )


def _value(row: Row, clause: Clause, column: int) -> float | None:
    if clause.suffix == "":
        return row.cells[column].value
    change = row.changes[column]
    if change is None:
        return None
    return change.ratio if clause.suffix == "_ratio" else change.difference


def _shown(row: Row, clause: Clause, value: float) -> str:
    if clause.suffix == "_ratio":
        return format_ratio(value)
    if clause.suffix == "_diff":
        return format_difference(value, row.unit)
    return format_value(value, row.unit)


def evaluate(condition: Condition, comparison: Comparison, *, every_run: bool = False) -> list[str]:
    """Why the condition holds, one reason per run where it does; empty when it holds nowhere.

    The baseline is tested too when ``every_run`` (``poolscope run``: runs, no baseline).
    Raises ``FailIfError`` when the condition names a figure the comparison lacks.
    """
    keys = [row.key for row in comparison.rows]
    rows: dict[str, Row] = {}
    for group in condition.groups:
        for clause in group:
            row = comparison.rows[keys.index(_resolve(keys, clause))]
            _check_units(row, clause)
            rows[clause.key] = row
    reasons = []
    for column in range(0 if every_run else 1, len(comparison.runs)):
        for group in condition.groups:
            found = []
            for clause in group:
                row = rows[clause.key]
                value = _value(row, clause, column)
                if value is None or not OPERATORS[clause.operator](value, clause.threshold):
                    break
                found.append(f"{clause.key}{clause.suffix} = {_shown(row, clause, value)}")
            else:
                label = comparison.runs[column].label
                reasons.append(
                    f"--fail-if {condition.text!r} holds for {label}: {', '.join(found)}"
                )
                break
    return reasons
