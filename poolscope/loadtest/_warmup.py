"""The warm-up's mark: a hook ``poolscope run --warmup`` has Locust load beside the
user's locustfile. At the warm-up's end it writes Locust's statistics so far to a file;
the run's figures are the final ones minus these.

The hook's source is written into the run's working directory and given to Locust by its
path (``-f FILE,HOOK``): it imports Locust, so it is no module of poolscope's, which
never imports Locust outside Locust's processes. Its settings come through the
environment of Locust's process.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FILE_ENV", "HOOK_SOURCE", "METRICS_ENV", "SECONDS_ENV", "write_hook"]

SECONDS_ENV = "POOLSCOPE_WARMUP_SECONDS"
FILE_ENV = "POOLSCOPE_WARMUP_FILE"
# The target's metrics, read by the hook at the mark: the pool's baseline at that instant.
METRICS_ENV = "POOLSCOPE_WARMUP_METRICS_URL"

HOOK_SOURCE = f'''"""poolscope run --warmup: Locust's statistics at the warm-up's end."""

import json
import os
import time
import urllib.request

import gevent
from locust import events
from locust.runners import WorkerRunner


def _metrics():
    url = os.environ.get("{METRICS_ENV}")
    if not url:
        return None
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except Exception:  # the sample poolscope takes when it sees the mark stands in
        return None


def _write(environment, path):
    stats = environment.runner.stats
    # serialize(), not serialize_stats(): the latter resets what it reports.
    entries = [entry.serialize() for entry in stats.entries.values() if entry.num_requests]
    marked = time.time()
    body = {{"time": marked, "entries": entries, "metrics": _metrics()}}
    partial = path + ".partial"
    with open(partial, "w") as handle:
        json.dump(body, handle)
    os.replace(partial, path)


@events.test_start.add_listener
def _mark_the_warmup_end(environment, **_kwargs):
    path = os.environ.get("{FILE_ENV}")
    seconds = float(os.environ.get("{SECONDS_ENV}") or 0)
    if not path or seconds <= 0 or isinstance(environment.runner, WorkerRunner):
        return

    def mark():
        gevent.sleep(seconds)
        _write(environment, path)

    gevent.spawn(mark)
'''


def write_hook(directory: Path) -> Path:
    """The hook as a file in ``directory``, for Locust's ``-f``."""
    path = directory / "poolscope_warmup_mark.py"
    path.write_text(HOOK_SOURCE)
    return path
