"""Re-record tests/data/measured/: ``.venv/bin/python tests/data/record_measured.py``.

Real measurements (threads through a real pool on a throwaway embedded PostgreSQL, see
tests/measured_runs.py), kept so the fast compare tests need no database.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from poolscope._embedded import EmbeddedPostgres  # noqa: E402
from poolscope._runfile import write_run  # noqa: E402
from tests.measured_runs import measure_run  # noqa: E402


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="poolscope-record-"))
    server = EmbeddedPostgres(data)
    try:
        url = server.start()
        for variant in ("global", "per-request"):
            run = measure_run(url, variant=variant, users=4, requests_per_user=60)
            write_run(run, ROOT / "tests" / "data" / "measured" / f"{variant}.json")
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
