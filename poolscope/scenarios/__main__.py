"""``python -m poolscope.scenarios describe|check``: scenario metadata and checks as JSON.

``poolscope run`` calls this in a subprocess, because the scenario modules import Locust
and Locust must never be imported into poolscope's own process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from poolscope._errors import PoolscopeError
from poolscope.readings import load_run
from poolscope.scenarios import MODULES, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m poolscope.scenarios")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("describe", help="every scenario's settings and variants")
    check = commands.add_parser("check", help="check finished runs of one scenario")
    check.add_argument("scenario", choices=sorted(MODULES))
    check.add_argument("run_files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "describe":
        described = []
        for name, module in MODULES.items():
            scenario = load(name)
            described.append(scenario.describe(sys.modules[f"poolscope.{module}"].__file__ or ""))
        print(json.dumps(described))
        return 0
    try:
        runs = {run.variant: run for run in map(load_run, args.run_files)}
    except PoolscopeError as error:
        print(f"scenarios: error: {error}", file=sys.stderr)
        return 1
    print(load(args.scenario).check(runs).model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
