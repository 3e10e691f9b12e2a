"""The one rule for text from outside: control characters written as their escapes,
markup characters left as they are, long text cut with its length said."""

from __future__ import annotations

import pytest

from poolscope.readings import LINE_LIMIT, one_line, shorten, visible


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"),
        ("\x9b31m", "\\x9b31m"),
        ("\x7f\x00", "\\x7f\\x00"),
        ("abc\u202edef", "abc\\u202edef"),
        ("line\nnext\r", "line\\x0anext\\x0d"),
        ("POST /items [create] [/x] [bold red]x[/]", "POST /items [create] [/x] [bold red]x[/]"),
        ("tab\there, µs, ×1.2", "tab\there, µs, ×1.2"),
    ],
)
def test_control_characters_become_visible(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_a_stack_keeps_its_lines() -> None:
    assert visible('File "a.py"\n  x\x1b', keep_lines=True) == 'File "a.py"\n  x\\x1b'


def test_long_text_is_cut_within_the_limit_and_says_so() -> None:
    line = one_line("\x07" + "x" * 100_000)
    assert len(line) == LINE_LIMIT
    assert line.startswith("\\x07xxx")
    assert line.endswith("… (100,004 characters)")
    assert shorten("short") == "short"
