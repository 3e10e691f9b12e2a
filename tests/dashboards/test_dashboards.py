"""The dashboard, alert rules, Prometheus and Grafana provisioning and compose file in
dashboards/: generated files are current, every PromQL expression parses and names only
poolscope's metrics, promtool accepts config and rules and passes the rule unit tests, and
the compose file names the same ports and paths as the other files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from poolscope import metrics as _names
from poolscope.service._settings import ServiceSettings
from tests.support.dashboards import (
    ALERTS,
    ALLOWED_NAMES,
    DASHBOARD_JSON,
    DASHBOARDS,
    PROMETHEUS_DIR,
    ROOT,
    alert_rules,
    annotation_exprs,
    generate,
    load_dashboard,
    metric_names,
    panel_queries,
    panels,
    substitute,
    variable_selectors,
)

COMPOSE = DASHBOARDS / "docker-compose.yml"
COMPOSE_SCHEMA = Path(__file__).parent.parent / "data" / "compose-spec.json"
PROVISIONING = DASHBOARDS / "grafana" / "provisioning"


def promtool(*arguments: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    assert executable, "promtool is missing: apt-get install prometheus (.ci/run does)"
    return subprocess.run(
        [executable, *arguments], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_committed_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    generate(tmp_path)
    written = sorted(path for path in tmp_path.rglob("*") if path.is_file())
    assert written, "the generator wrote nothing"
    for path in written:
        committed = DASHBOARDS / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), (
            f"{committed} is stale: run python dashboards/generate.py"
        )


def test_dashboard_is_import_ready_with_a_datasource_variable() -> None:
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"] == "poolscope"
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "pool", "instance", "route"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${datasource}"
        assert variables[name]["includeAll"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_every_panel_says_what_to_look_for() -> None:
    for panel in panels(load_dashboard()):
        assert len(panel.get("description", "")) > 40, panel["title"]
        assert panel["targets"], panel["title"]


def test_every_pool_query_follows_the_job_pool_and_instance_variables() -> None:
    for query in panel_queries(load_dashboard()):
        assert 'job=~"$job"' in query.expr, query
        assert 'instance=~"$instance"' in query.expr, query
        if metric_names(query.expr) & _names.exposed_names():
            assert 'pool=~"$pool"' in query.expr, query


def test_dashboard_shows_every_pool_metric_poolscope_exports() -> None:
    shown = set().union(*(metric_names(query.expr) for query in panel_queries(load_dashboard())))
    shown = {name.removesuffix("_total") for name in shown}
    shown |= {name.rsplit("_", 1)[0] for name in shown if name.endswith(("_bucket", "_sum"))}
    # Instrumentation errors are poolscope's own health, not the pool's.
    expected = (set(_names.GAUGES) | set(_names.COUNTERS) | set(_names.HISTOGRAMS)) - {
        _names.INSTRUMENTATION_ERRORS
    }
    assert expected <= shown, f"no panel shows {sorted(expected - shown)}"


def test_a_panel_shows_threads_busy_against_the_limit_beside_pending_requests() -> None:
    for panel in panels(load_dashboard()):
        shown = set().union(*(metric_names(target["expr"]) for target in panel["targets"]))
        if set(_names.THREADPOOL_GAUGES) <= shown:
            assert _names.CONNECTION_PENDING_REQUESTS in shown, panel["title"]
            break
    else:
        raise AssertionError("no panel shows the thread pool")


def test_wait_time_panel_shows_p50_p95_p99_from_the_histogram() -> None:
    exprs = [
        query.expr
        for query in panel_queries(load_dashboard())
        if f"{_names.CONNECTION_WAIT_TIME}_bucket" in query.expr
    ]
    for level in ("0.5", "0.95", "0.99"):
        assert any(expr.startswith(f"histogram_quantile({level},") for expr in exprs), level


def test_use_time_is_broken_down_by_route() -> None:
    exprs = [
        query.expr
        for query in panel_queries(load_dashboard())
        if _names.CONNECTION_USE_TIME in query.expr
    ]
    assert exprs
    for expr in exprs:
        assert f'{_names.ROUTE_LABEL}=~"$route"' in expr
        assert f"sum by (le, job, {_names.POOL_LABEL}, {_names.ROUTE_LABEL})" in expr or (
            f"sum by (job, {_names.POOL_LABEL}, {_names.ROUTE_LABEL})" in expr
        )


def all_expressions() -> list[str]:
    dashboard = load_dashboard()
    return [
        *(query.expr for query in panel_queries(dashboard)),
        *variable_selectors(dashboard).values(),
        *annotation_exprs(dashboard),
        *(rule["expr"] for rule in alert_rules()),
    ]


def test_name_extraction_finds_names_and_skips_functions_labels_and_keywords() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, pool) (rate(a_bucket{pool=~"$pool", '
        'x="rate(b)"}[$__rate_interval]))) > on (pool) group_left c_total offset 5m '
        "or sum(d) * 1e3 unless max without (instance) (e)"
    )
    assert metric_names(expr) == {"a_bucket", "c_total", "d", "e"}


def test_every_expression_names_only_metrics_poolscope_defines() -> None:
    expressions = all_expressions()
    assert len(expressions) > 20
    for expr in expressions:
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        unknown = names - ALLOWED_NAMES
        assert not unknown, f"{expr!r} refers to {sorted(unknown)}, not defined by poolscope"


def test_a_misspelled_metric_is_caught() -> None:
    expr = load_dashboard()["panels"][1]["targets"][0]["expr"]
    misspelled = expr.replace(_names.CONNECTION_COUNT, "db_client_connections_count")
    assert metric_names(misspelled) - ALLOWED_NAMES == {"db_client_connections_count"}


@pytest.mark.external
def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    """promtool parses each dashboard query as a recording rule."""
    rules: list[dict[str, Any]] = [
        {"record": f"dashboard:check:{index}", "expr": substitute(expr, rate_interval="1m")}
        for index, expr in enumerate(all_expressions())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


@pytest.mark.external
def test_a_broken_expression_fails_promtool(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    rule = {"record": "x:y", "expr": "sum by (pool (rate(z[1m]))"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [rule]}]}))
    assert promtool("check", "rules", str(path)).returncode != 0


@pytest.mark.external
def test_promtool_check_config() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.external
def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


@pytest.mark.external
def test_promtool_test_rules() -> None:
    """The rules fire for saturation, slow checkouts, timeouts, leaks and pools created per
    request, after their ``for:``, and stay quiet for a healthy pool."""
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.external
def test_rule_unit_tests_fail_when_a_rule_stops_firing(tmp_path: Path) -> None:
    """The promtool unit tests are not vacuous: a leak rule that never fires fails them."""
    shutil.copy(PROMETHEUS_DIR / "alerts_test.yml", tmp_path)
    text = ALERTS.read_text().replace(
        f"{_names.POOL_LEAKED_CONNECTIONS}) > 0", f"{_names.POOL_LEAKED_CONNECTIONS}) > 1000"
    )
    text = text.replace(f"{_names.POOL_LEAKS}_total[10m])) > 0", "x[10m])) > 0")
    assert text != ALERTS.read_text()
    (tmp_path / ALERTS.name).write_text(text)
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "PoolscopeConnectionLeak" in result.stdout + result.stderr


def test_dashboard_marks_every_poolscope_alert_on_its_graphs() -> None:
    (expr,) = annotation_exprs(load_dashboard())
    assert 'alertname=~"Poolscope.*"' in expr
    assert all(rule["alert"].startswith("Poolscope") for rule in alert_rules())


def test_every_alert_the_issue_asks_for_exists() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    saturated = rules["PoolscopePoolSaturated"]
    assert saturated["for"] not in ("0m", "0s")
    assert _names.CONNECTION_MAX in saturated["expr"]
    assert "histogram_quantile(\n  0.95" in rules["PoolscopeCheckoutWaitHigh"]["expr"]
    assert _names.CONNECTION_TIMEOUTS in rules["PoolscopeCheckoutTimeouts"]["expr"]
    assert _names.POOL_LEAKED_CONNECTIONS in rules["PoolscopeConnectionLeak"]["expr"]
    assert _names.POOLS_CREATED in rules["PoolscopePoolsCreatedPerRequest"]["expr"]
    starvation = rules["PoolscopeThreadStarvation"]["expr"]
    assert {_names.THREADPOOL_BUSY_THREADS, _names.THREADPOOL_LIMIT} <= metric_names(starvation)
    assert _names.CONNECTION_PENDING_REQUESTS in starvation
    for rule in rules.values():
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


# The compose stack


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of a compose service: container path -> host path (relative to dashboards/)."""
    result = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        result[target] = source
    return result


def host_path(source: str) -> Path:
    path = (DASHBOARDS / source).resolve()
    assert path.exists(), f"compose mounts {source}, which does not exist"
    return path


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(compose())
    broken = compose()
    broken["services"]["grafana"]["volume"] = broken["services"]["grafana"].pop("volumes")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_compose_runs_postgresql_the_service_prometheus_and_grafana() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "service", "prometheus", "grafana"}
    service = services["service"]
    assert service["command"][0] == "serve"
    context = (DASHBOARDS / service["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / service["build"]["dockerfile"]).exists()
    url = service["environment"]["POOLSCOPE_DATABASE_URL"]
    assert "@postgres:5432/" in url
    for name, spec in services.items():
        for port in spec.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_compose_configures_the_service_with_real_settings_and_flags() -> None:
    service = compose()["services"]["service"]
    environment = service["environment"]
    settings = ServiceSettings.model_validate(
        {key.removeprefix("POOLSCOPE_").lower(): value for key, value in environment.items()}
    )
    assert settings.database_url is not None
    help_text = subprocess.run(
        [sys.executable, "-m", "poolscope", *service["command"][:1], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    for flag in (arg for arg in service["command"] if arg.startswith("--")):
        assert flag in help_text, f"poolscope serve has no {flag}"


def test_prometheus_scrapes_the_service_where_compose_runs_it() -> None:
    services = compose()["services"]
    command = services["service"]["command"]
    port = command[command.index("--port") + 1]
    config_path = next(
        arg.split("=", 1)[1]
        for arg in services["prometheus"]["command"]
        if arg.startswith("--config.file=")
    )
    config_dir, config_name = config_path.rsplit("/", 1)
    mounted = host_path(mounts(services["prometheus"])[config_dir])
    assert mounted == PROMETHEUS_DIR
    config = yaml.safe_load((mounted / config_name).read_text())
    (job,) = config["scrape_configs"]
    (targets,) = job["static_configs"]
    assert targets["targets"] == [f"service:{port}"]
    assert job["metrics_path"] == "/metrics"
    for rule_file in config["rule_files"]:
        assert (mounted / rule_file).exists()
    published = {port.rsplit(":", 1)[1] for port in services["service"]["ports"]}
    assert port in published


def test_grafana_provisioning_points_at_compose_prometheus_and_the_dashboard() -> None:
    services = compose()["services"]
    grafana_mounts = mounts(services["grafana"])
    assert host_path(grafana_mounts["/etc/grafana/provisioning"]) == PROVISIONING

    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (datasource,) = datasources["datasources"]
    assert datasource["type"] == "prometheus"
    # Prometheus listens on 9090 in its container unless told otherwise.
    assert not any("web.listen-address" in arg for arg in services["prometheus"]["command"])
    assert datasource["url"] == "http://prometheus:9090"
    prometheus_config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert datasource["jsonData"]["timeInterval"] == prometheus_config["global"]["scrape_interval"]

    providers = yaml.safe_load((PROVISIONING / "dashboards" / "poolscope.yml").read_text())
    (provider,) = providers["providers"]
    dashboards_dir = provider["options"]["path"]
    assert host_path(grafana_mounts[dashboards_dir]) == DASHBOARD_JSON.parent
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_dir}/{DASHBOARD_JSON.name}"
