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

__all__ = [
    "STACK_CAPTURES",
    "Borrower",
    "StackCapture",
    "capture_full",
    "capture_site",
    "format_borrower",
]

StackCapture = Literal["off", "site", "full"]
STACK_CAPTURES: tuple[StackCapture, ...] = ("off", "site", "full")

# (code, last instruction offset) per frame, innermost first: both read without
# computing a line number (f_lineno decodes the line table, frame by frame); lines are
# found when a report is written. Code objects hold no locals.
Borrower = tuple[tuple[CodeType, int], ...]

_FULL_LIMIT = 64
_getframe = sys._getframe
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
# (a str caches its hash; a code object computes its own each time).
_internal: dict[str, bool] = {}


def _is_internal(filename: str) -> bool:
    known = _internal[filename] = filename.startswith(_INTERNAL_DIRS) and not filename.startswith(
        _SERVICE_DIR
    )
    return known


def _caller(frame: FrameType, crossed: bool) -> FrameType | None:
    """The bottom of SQLAlchemy's greenlet has no caller: the awaiting code is in the parent."""
    if crossed:
        return None
    parent = greenlet.getcurrent().parent
    return parent.gr_frame if parent is not None else None


def capture_site() -> Borrower:
    """The innermost frame outside SQLAlchemy and poolscope, seen from a checkout hook.

    Kept apart from :func:`capture_full` and free of lists: it runs at every checkout.
    """
    internal = _internal
    frame: FrameType | None = _getframe(1)
    crossed = False
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        known = internal.get(filename)
        if known is None:
            known = _is_internal(filename)
        if not known:
            return ((code, frame.f_lasti),)
        caller = frame.f_back
        if caller is None:
            caller, crossed = _caller(frame, crossed), True
        frame = caller
    return ()


def capture_full() -> Borrower:
    """Every frame outside SQLAlchemy and poolscope (up to 64), seen from a checkout hook."""
    internal = _internal
    frame: FrameType | None = _getframe(1)
    frames: list[tuple[CodeType, int]] = []
    crossed = False
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        known = internal.get(filename)
        if known is None:
            known = _is_internal(filename)
        if not known:
            frames.append((code, frame.f_lasti))
            if len(frames) >= _FULL_LIMIT:
                break
        caller = frame.f_back
        if caller is None:
            caller, crossed = _caller(frame, crossed), True
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
