"""Who borrowed a connection: the stack of the code that checked it out, captured at
checkout at a price the user chooses.

- ``"off"``: nothing is captured; reports still name the pool, the time held and the route.
- ``"site"``: the innermost frame outside SQLAlchemy and poolscope (the line that made the
  checkout), found by walking frames without reading any source.
- ``"full"``: every frame outside SQLAlchemy and poolscope, still without reading source;
  lines are read only when a report is written.

Inside an ``AsyncEngine`` SQLAlchemy runs the checkout in a greenlet whose bottom frame
has no caller; the walk continues in the parent greenlet, where the awaiting code is.
"""

from __future__ import annotations

import os
import sys
import traceback
from types import CodeType, FrameType
from typing import Literal

import greenlet  # type: ignore[import-untyped]
import sqlalchemy

__all__ = ["Borrower", "StackCapture", "capture", "format_borrower"]

StackCapture = Literal["off", "site", "full"]
STACK_CAPTURES: tuple[StackCapture, ...] = ("off", "site", "full")

# (filename, line number, function), innermost first.
Borrower = tuple[tuple[str, int, str], ...]

_FULL_LIMIT = 64
_INTERNAL_DIRS = (
    *(
        os.path.dirname(module_file) + os.sep
        for module_file in (sqlalchemy.__file__, __file__, greenlet.__file__)
        if module_file is not None
    ),
    # SQLAlchemy's generated wrappers: "<sqlalchemy generated _go() wrapper for ...>".
    "<sqlalchemy",
)
# Whether a code object lives in SQLAlchemy, poolscope or greenlet, looked up once each.
_internal: dict[CodeType, bool] = {}


def _is_internal(code: CodeType) -> bool:
    known = _internal.get(code)
    if known is None:
        known = _internal[code] = code.co_filename.startswith(_INTERNAL_DIRS)
    return known


def capture(mode: StackCapture) -> Borrower:
    """The borrower's frames as seen from inside a pool checkout listener."""
    if mode == "off":
        return ()
    frame: FrameType | None = sys._getframe(1)
    frames: list[tuple[str, int, str]] = []
    crossed = False
    while frame is not None:
        code = frame.f_code
        if not _is_internal(code):
            frames.append((code.co_filename, frame.f_lineno, code.co_name))
            if mode == "site" or len(frames) >= _FULL_LIMIT:
                break
        caller = frame.f_back
        if caller is None and not crossed:
            # The bottom of SQLAlchemy's greenlet: the awaiting code waits in the parent.
            crossed = True
            parent = greenlet.getcurrent().parent
            caller = parent.gr_frame if parent is not None else None
        frame = caller
    return tuple(frames)


def format_borrower(borrower: Borrower) -> str:
    """The frames as Python prints a traceback (outermost first), source lines included."""
    if not borrower:
        return "  (stack not captured: stack_capture='off')"
    summary = traceback.StackSummary.from_list(
        [traceback.FrameSummary(filename, lineno, name) for filename, lineno, name in borrower]
    )
    summary.reverse()
    return "".join(summary.format()).rstrip("\n")
