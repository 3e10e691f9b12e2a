"""The names poolscope exports are deliberate: adding or losing one is a visible change."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import poolscope
import poolscope.fastapi
import poolscope.loadtest
import poolscope.metrics
import poolscope.postgres

LIBRARY_NAMES = [
    "SUPPORTED_SQLALCHEMY",
    "CheckedOutConnection",
    "Instrumentation",
    "InstrumentedAsyncAdaptedQueuePool",
    "InstrumentedQueuePool",
    "PoolState",
    "PoolscopeError",
    "StackCapture",
    "instrument",
    "mask_url",
    "url_for_driver",
]


def public_names(module: types.ModuleType) -> set[str]:
    """What a module offers: in a package's ``__init__``, every name without a leading
    underscore but the submodules (it holds nothing else); in a module, the public names it
    defines itself, not those it imports to do its work."""
    is_package = hasattr(module, "__path__")
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__
        and (is_package or getattr(value, "__module__", None) == module.__name__)
    }


@pytest.mark.parametrize(
    "module",
    [poolscope, poolscope.fastapi, poolscope.loadtest, poolscope.postgres],
    ids=lambda module: module.__name__,
)
def test_all_names_every_public_name(module: types.ModuleType) -> None:
    # ruff (RUF022) keeps each __all__ sorted.
    assert set(module.__all__) == public_names(module)


def test_library_names() -> None:
    assert poolscope.__all__ == LIBRARY_NAMES


def test_fastapi_integration_names() -> None:
    assert poolscope.fastapi.__all__ == [
        "RouteMiddleware",
        "ThreadPoolCollector",
        "instrument_app",
        "instrument_threadpool",
        "pool_answer",
        "pool_router",
        "route_template",
    ]


@pytest.mark.process
def test_importing_poolscope_and_the_cli_does_not_import_locust() -> None:
    code = (
        "import sys, poolscope, poolscope.cli._app, poolscope.loadtest._run, "
        "poolscope.compare, poolscope.service; print('locust' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.process
def test_no_poolscope_module_but_the_plugin_and_scenarios_imports_locust() -> None:
    # Every module of the package, the CLI's and the runner's included; only the Locust
    # plugin and the scenario modules (locustfiles, imported inside Locust's processes)
    # may import Locust. The scenarios' package and its describe/check command may not.
    code = (
        "import pkgutil, importlib, sys, poolscope\n"
        "locust_side = ('poolscope.locust', 'poolscope.__main__')\n"
        "plain = ('poolscope.scenarios.__main__', 'poolscope.scenarios._scenario')\n"
        "for module in pkgutil.walk_packages(poolscope.__path__, 'poolscope.'):\n"
        "    if module.name.startswith('poolscope.scenarios.') and module.name not in plain:\n"
        "        continue\n"
        "    if module.name not in locust_side:\n"
        "        importlib.import_module(module.name)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'locust'\n"
        "             or name == 'poolscope.locust'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_reading_layer_names() -> None:
    import poolscope.loadtest
    import poolscope.readings

    # Sorted as ruff sorts __all__: constants, then classes, then functions.
    assert poolscope.readings.__all__ == [
        "COUNTERS",
        "LINE_LIMIT",
        "MAX_METRICS_BYTES",
        "MAX_POOL_BYTES",
        "MAX_RUN_FILE_BYTES",
        "NO_DATA",
        "SCHEMA",
        "SCRAPE_SECONDS",
        "Configuration",
        "EndpointStats",
        "Environment",
        "Histogram",
        "LatencySummary",
        "LeakReport",
        "LocustTotals",
        "LocustfileRecord",
        "MetricsSampler",
        "PoolSample",
        "PoolSettings",
        "PoolSnapshot",
        "PoolSummary",
        "RouteHolds",
        "RouteTotals",
        "Run",
        "RunFileError",
        "ScenarioCheck",
        "ScrapeError",
        "TimedSnapshot",
        "TimingSummary",
        "Warmup",
        "count_above",
        "counter_increases",
        "counters_reset",
        "format_share",
        "get_bounded",
        "held_idle_cause",
        "held_idle_route",
        "held_idle_routes",
        "json_visible",
        "literal",
        "load_run",
        "mostly_held_idle",
        "one_line",
        "parse_metrics",
        "pool_settings",
        "print_unbroken",
        "read_regular_file",
        "read_within",
        "route_figures",
        "route_holds",
        "route_lines",
        "samples_since",
        "shorten",
        "starvation_cause",
        "starved_idle_connections",
        "starved_seconds",
        "summarize_pool",
        "timing_summary",
        "visible",
        "write_atomically",
        "write_run",
    ]
    for name in poolscope.readings.__all__:
        module = getattr(getattr(poolscope.readings, name), "__module__", "poolscope.readings._")
        assert module.startswith("poolscope.readings._"), name
    # The run file's model stays importable from the runner, as before.
    assert poolscope.loadtest.Run is poolscope.readings.Run
