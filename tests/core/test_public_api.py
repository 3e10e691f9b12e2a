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
def test_no_poolscope_module_but_the_plugin_imports_locust() -> None:
    # Every module of the package, the CLI's and the runner's included; only the Locust
    # plugin (imported by locustfiles, inside Locust's processes) may import Locust.
    code = (
        "import pkgutil, importlib, sys, poolscope\n"
        "for module in pkgutil.walk_packages(poolscope.__path__, 'poolscope.'):\n"
        "    if module.name not in ('poolscope.locust', 'poolscope.__main__'):\n"
        "        importlib.import_module(module.name)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'locust'\n"
        "             or name == 'poolscope.locust'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
