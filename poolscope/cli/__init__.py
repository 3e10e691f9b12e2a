"""The ``poolscope`` command. It needs the tool extra; without it, one line says so."""

from __future__ import annotations

import sys

__all__ = ["main"]

# What the tool extra brings that the library install lacks.
TOOL_MODULES = ("typer", "rich", "uvicorn", "fastapi", "httpx", "platformdirs", "pydantic_settings")


def main() -> None:
    try:
        from poolscope.cli._app import main as run_command
    except ModuleNotFoundError as error:
        if error.name not in TOOL_MODULES:
            raise
        print(
            "poolscope: the command needs the tool: pip install 'poolscope[tool]' "
            f"({error.name} is missing)",
            file=sys.stderr,
        )
        sys.exit(2)
    run_command()
