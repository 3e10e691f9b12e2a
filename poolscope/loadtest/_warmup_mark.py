"""Loaded by Locust beside the user's locustfile (``-f FILE,this``) when ``poolscope run``
has a warm-up: at its end, Locust's statistics so far go to a file. The run's figures are
the final ones minus these; runs inside Locust only (it imports Locust)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import gevent
from locust import events
from locust.runners import WorkerRunner

# Spelled here again, not imported: Locust loads this file by its path, outside any package.
SECONDS_ENV = "POOLSCOPE_WARMUP_SECONDS"
FILE_ENV = "POOLSCOPE_WARMUP_FILE"


def _write(environment: Any, path: str) -> None:
    stats = environment.runner.stats
    # serialize(), not serialize_stats(): the latter resets what it reports.
    entries = [entry.serialize() for entry in stats.entries.values() if entry.num_requests]
    body = {"time": time.time(), "entries": entries}
    partial = f"{path}.partial"
    with open(partial, "w") as handle:
        json.dump(body, handle)
    os.replace(partial, path)


def _mark_the_warmup_end(environment: Any, **_kwargs: Any) -> None:
    path, seconds = os.environ.get(FILE_ENV), float(os.environ.get(SECONDS_ENV) or 0)
    if not path or seconds <= 0 or isinstance(environment.runner, WorkerRunner):
        return

    def mark() -> None:
        gevent.sleep(seconds)
        _write(environment, path)

    gevent.spawn(mark)


events.test_start.add_listener(_mark_the_warmup_end)  # type: ignore[no-untyped-call]
