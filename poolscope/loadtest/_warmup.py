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

__all__ = ["FILE_ENV", "HOOK_SOURCE", "SECONDS_ENV", "write_hook"]

SECONDS_ENV = "POOLSCOPE_WARMUP_SECONDS"
FILE_ENV = "POOLSCOPE_WARMUP_FILE"

HOOK_SOURCE = f'''"""poolscope run --warmup: Locust's statistics at the warm-up's end."""

import json
import os
import time

import gevent
from locust import events
from locust.runners import WorkerRunner


def _write(environment, path):
    stats = environment.runner.stats
    # serialize(), not serialize_stats(): the latter resets what it reports.
    entries = [entry.serialize() for entry in stats.entries.values() if entry.num_requests]
    partial = path + ".partial"
    with open(partial, "w") as handle:
        json.dump({{"time": time.time(), "entries": entries}}, handle)
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
