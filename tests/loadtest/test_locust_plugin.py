"""The Locust plugin (`import poolscope.locust`) on an own service: the example's locustfile
gets a Pool tab whose charts show the pool filling up, in a real Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from poolscope.postgres import free_port
from tests.support.browser import chromium
from tests.support.example_service import EXAMPLE_DIR, EXAMPLE_LOCUSTFILE

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process, pytest.mark.browser]

USERS = 6  # on a pool of 2: it stays full


@contextmanager
def locust_web_ui(host: str, *extra: str) -> Iterator[str]:
    """The example's locustfile in Locust's web UI, its users started at once."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(EXAMPLE_LOCUSTFILE),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "--host",
            host,
            "--autostart",
            "-u",
            str(USERS),
            "-r",
            str(USERS),
            "-t",
            "60s",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=EXAMPLE_DIR,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def pool_answer(base: str, *, until_samples: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    answer: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/poolscope/pool", timeout=5).json()
        except httpx.TransportError:
            answer = {}
        samples = answer.get("samples", [])
        if len(samples) >= until_samples and any(s["used"] == 2 for s in samples):
            return answer
        time.sleep(0.5)
    raise AssertionError(f"the plugin did not see the pool fill up: {answer}")


def test_pool_tab_charts_an_own_service(example_host: str) -> None:
    host = example_host
    with (
        # The metrics URL as the mount serves it, without the redirect.
        locust_web_ui(host, "--poolscope-metrics-url", f"{host}/metrics/") as base,
    ):
        answer = pool_answer(base, until_samples=4)
        rows = {row["metric"]: row["value"] for row in answer["rows"]}
        charts = httpx.get(f"{base}/poolscope/charts", timeout=10).text
        with chromium() as browser:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{base}/?tab=pool")
            page.wait_for_selector("text=used / max", timeout=30_000)
            frame = page.frame_locator("iframe#poolscope-charts")
            frame.locator("svg.chart.connections polyline").first.wait_for(timeout=30_000)
            drawn = frame.locator("svg.chart polyline").count()
    assert answer["error"] is None
    assert answer["metrics_url"] == f"{host}/metrics/"
    assert rows["pools"] == "orders"
    assert rows["used / max"].endswith("/ 2")
    assert max(sample["pending"] for sample in answer["samples"]) >= 1
    assert 'class="chart connections"' in charts
    assert "no samples" not in charts
    assert drawn >= 2
    assert errors == []
