"""How a figure that could not be measured reads wherever poolscope shows one: ``no data``,
never 0 (a measured zero) and never a dash (read as a missing value, or as zero)."""

from __future__ import annotations

__all__ = ["NO_DATA"]

NO_DATA = "no data"
