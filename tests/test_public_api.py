"""The names poolscope exports are deliberate: adding or losing one is a visible change."""

from __future__ import annotations

import poolscope


def test_all_is_sorted_and_complete() -> None:
    assert poolscope.__all__ == sorted(poolscope.__all__)
    for name in poolscope.__all__:
        assert hasattr(poolscope, name), name


def test_exported_names() -> None:
    assert set(poolscope.__all__) == {
        "CheckedOutConnection",
        "EmbeddedPostgres",
        "EmbeddedPostgresError",
        "Instrumentation",
        "InstrumentedAsyncAdaptedQueuePool",
        "InstrumentedQueuePool",
        "PoolState",
        "PoolscopeError",
        "StackCapture",
        "instrument",
        "mask_url",
        "url_for_driver",
    }


def test_importing_poolscope_does_not_import_locust() -> None:
    import subprocess
    import sys

    code = "import sys, poolscope, poolscope._cli; print('locust' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_fastapi_integration_names() -> None:
    import poolscope.fastapi

    assert poolscope.fastapi.__all__ == ["RouteMiddleware", "instrument_app", "route_template"]
