"""Reading the committed dashboards/ files: the dashboard's queries, the alert rules'
expressions, and the metric names a PromQL expression refers to."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from poolscope import metrics as _names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
DASHBOARD_JSON = DASHBOARDS / "grafana" / "dashboards" / "poolscope.json"
PROMETHEUS_DIR = DASHBOARDS / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
GENERATE = DASHBOARDS / "generate.py"

# The sample service's HTTP metrics, exported by prometheus-fastapi-instrumentator: the
# only names outside poolscope.metrics the dashboard may use.
INSTRUMENTATOR_NAMES = frozenset(
    {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
    }
)
# Prometheus's own series of active alerts (the dashboard's alert annotation reads it).
PROMETHEUS_NAMES = frozenset({"ALERTS"})
ALLOWED_NAMES = (
    _names.exposed_names() | set(_names.THREADPOOL_GAUGES) | INSTRUMENTATOR_NAMES | PROMETHEUS_NAMES
)


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    ref_id: str
    expr: str


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD_JSON.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but the rows."""
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def panel_queries(dashboard: dict[str, Any]) -> list[PanelQuery]:
    return [
        PanelQuery(panel=panel["title"], ref_id=target["refId"], expr=target["expr"])
        for panel in panels(dashboard)
        for target in panel["targets"]
    ]


def annotation_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [
        annotation["expr"]
        for annotation in dashboard["annotations"]["list"]
        if annotation.get("expr")
    ]


_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


def variable_selectors(dashboard: dict[str, Any]) -> dict[str, str]:
    """The series selector of each ``label_values(...)`` query variable, by variable name."""
    selectors = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = _LABEL_VALUES.match(variable["query"])
            assert match, variable["query"]
            selectors[variable["name"]] = match["selector"]
    return selectors


def alert_rules(path: Path = ALERTS) -> list[dict[str, Any]]:
    document = yaml.safe_load(path.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def substitute(expr: str, *, rate_interval: str) -> str:
    """What Grafana sends for the dashboard's variables with "All" selected."""
    for variable in ("job", "pool", "instance", "route"):
        expr = expr.replace(f"${variable}", ".*")
    return expr.replace("$__rate_interval", rate_interval)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# An identifier that is not part of a longer one, a number or a variable, and is not
# called like a function.
_IDENTIFIER = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    bare = _STRING.sub('""', expr)
    bare = _MATCHERS.sub("{}", bare)
    bare = _RANGE.sub("[]", bare)
    bare = _GROUPING.sub("", bare)
    names = set(_IDENTIFIER.findall(bare)) - _KEYWORDS
    # {__name__="..."} selectors name their metric in a matcher.
    names.update(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    return names


def generate(output_dir: Path, *arguments: str) -> None:
    """Run dashboards/generate.py, writing into ``output_dir``."""
    subprocess.run(
        [sys.executable, str(GENERATE), "--output-dir", str(output_dir), *arguments],
        check=True,
        timeout=60,
    )
