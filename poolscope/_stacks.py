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

# (code, last instruction offset) per frame, innermost first: both read without
# computing a line number (f_lineno decodes the line table: ~0.4 µs a frame); lines are
# found when a report is written. Code objects hold no locals.
Borrower = tuple[tuple[CodeType, int], ...]

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
# poolscope's sample service borrows connections like any application: its frames stay.
_SERVICE_DIR = os.path.join(os.path.dirname(__file__), "service") + os.sep
# Whether a file is SQLAlchemy's, poolscope's or greenlet's, decided once per file name
# (a str caches its hash; a code object computes its own each time, ~0.5 µs).
_internal: dict[str, bool] = {}


def capture(mode: StackCapture) -> Borrower:
    """The borrower's frames as seen from inside a pool checkout listener."""
    if mode == "off":
        return ()
    internal = _internal
    frame: FrameType | None = sys._getframe(1)
    frames: list[tuple[CodeType, int]] = []
    crossed = False
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        is_internal = internal.get(filename)
        if is_internal is None:
            is_internal = internal[filename] = filename.startswith(
                _INTERNAL_DIRS
            ) and not filename.startswith(_SERVICE_DIR)
        if not is_internal:
            frames.append((code, frame.f_lasti))
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


def _line_of(code: CodeType, offset: int) -> int:
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


def format_borrower(borrower: Borrower) -> str:
    """The frames as Python prints a traceback (outermost first), source lines included."""
    if not borrower:
        return "  (not recorded: needs leak_threshold, and stack_capture 'site' or 'full')"
    summary = traceback.StackSummary.from_list(
        [
            traceback.FrameSummary(code.co_filename, _line_of(code, offset), code.co_name)
            for code, offset in borrower
        ]
    )
    summary.reverse()
    return "".join(summary.format()).rstrip("\n")
