"""Text from outside (a run file, a target, an argument) made safe to show in a terminal.

A name such as ``POST /items [create]`` or a borrower's stack is shown as given, but a
control character in it (ESC starting a terminal sequence, OSC, BEL, a C1 code, a bidi
override that reorders what follows) is written as its escape (``\\x1b``), so nothing in
a run file or a target's answer can clear a screen, set a window title or write to the
clipboard. Rich's markup is a separate matter: every such string reaches rich as a
``rich.text.Text`` (or with ``markup=False``), never as a markup string.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

__all__ = [
    "LINE_LIMIT",
    "json_visible",
    "literal",
    "one_line",
    "print_unbroken",
    "shorten",
    "visible",
]

# Longest message line shown: a target's or a file's text can run to megabytes.
LINE_LIMIT = 300

# C0 (but tab and newline, handled below), DEL, C1, and the bidi controls that make a
# terminal show text in another order than it is.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEPING_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


# What JSON leaves raw in a string (it must escape only C0): DEL, C1 and the bidi controls.
_CONTROL_IN_JSON = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_visible(text: str) -> str:
    """JSON ``text`` with the control characters JSON leaves raw written as ``\\u``
    escapes: the same values to any JSON reader, nothing a terminal acts on when the JSON
    is printed to one."""
    return _CONTROL_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control character written as its escape; newlines kept when
    ``keep_lines`` (a stack shown over several lines), escaped otherwise."""
    pattern = _CONTROL_KEEPING_LINES if keep_lines else _CONTROL
    return pattern.sub(_escape, text)


def shorten(text: str, limit: int = LINE_LIMIT) -> str:
    """At most ``limit`` characters, the cut marked with an ellipsis and the length."""
    if len(text) <= limit:
        return text
    mark = f"… ({len(text):,} characters)"
    return text[: max(0, limit - len(mark))] + mark


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """A message for one terminal line: control characters visible, then bounded."""
    return shorten(visible(text), limit)


def literal(text: str, style: str = "", *, keep_lines: bool = False) -> Text:
    """``text`` for rich as it is: never read as markup, control characters visible."""
    return Text(visible(text, keep_lines=keep_lines), style=style)


def print_unbroken(console: Console, text: Text) -> None:
    """``text`` wrapped between words only: a word longer than the terminal (a file path)
    goes whole on a line of its own, for the terminal to fold, never cut in two by rich
    (a log or a copy then holds the path as it is)."""
    unbroken = text.copy()
    unbroken.overflow = "ignore"  # no fold: a long word keeps its own line whole
    for line in unbroken.wrap(console, console.width):
        console.print(line, soft_wrap=True)
