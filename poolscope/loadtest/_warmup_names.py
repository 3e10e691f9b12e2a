"""How ``poolscope run`` tells Locust's warm-up mark (``_warmup_mark``) what to do: the
warm-up's seconds and the file to write, through the environment of Locust's process."""

from __future__ import annotations

__all__ = ["FILE_ENV", "SECONDS_ENV"]

SECONDS_ENV = "POOLSCOPE_WARMUP_SECONDS"
FILE_ENV = "POOLSCOPE_WARMUP_FILE"
