"""Keeping secrets out of what poolscope shows: database URLs, command lines, log text.

One helper for every place a password could surface: :func:`mask_url` for a URL shown on
purpose, :func:`redact` for any other text (a command line, the tail of a child's log, a
driver's error message), which masks the secrets it is given, as given and
percent-encoded, and every password it can recognise in a URL or an assignment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from poolscope._errors import PoolscopeError

__all__ = ["MASK", "mask_url", "parse_url", "redact", "url_secrets"]

MASK = "***"

# scheme://user:PASSWORD@ (any scheme: postgresql+asyncpg://, mysql://, redis://, ...).
_USERINFO_PASSWORD = re.compile(r"([A-Za-z][\w+.-]*://[^:/@\s'\"]*:)[^@\s'\"]+@")
# ?password=... / &sslpassword=... in a URL's query.
_QUERY_PASSWORD = re.compile(r"([?&][\w.-]*password=)[^&\s'\"#]*", re.IGNORECASE)
# PGPASSWORD=... or DATABASE_PASSWORD=... in a command line or an environment dump.
_ASSIGNED_PASSWORD = re.compile(r"\b(\w*PASSWORD=)('[^']*'|\"[^\"]*\"|[^\s'\"]+)", re.IGNORECASE)


def parse_url(url: str | URL) -> URL:
    """``url`` parsed by SQLAlchemy; a URL it cannot parse is an error that does not repeat
    it (SQLAlchemy's own message does, password included)."""
    try:
        return make_url(url)
    except ArgumentError:
        raise PoolscopeError("the database URL could not be parsed") from None


def mask_url(url: str | URL) -> str:
    """The URL as it may be shown: the password replaced by ``***``, where it is given as
    userinfo and in a query parameter (``?password=``, ``?sslpassword=``) alike."""
    parsed = parse_url(url)
    secret = [name for name in parsed.query if "password" in name.lower()]
    shown = parsed.render_as_string(hide_password=True)
    if not secret:
        return shown
    masked = parsed.update_query_dict(dict.fromkeys(secret, MASK))
    # SQLAlchemy percent-encodes the mask in a query.
    return masked.render_as_string(hide_password=True).replace(quote(MASK, safe=""), MASK)


def url_secrets(url: str | URL) -> list[str]:
    """The secrets a URL holds (its password, in any form), to scrub from messages."""
    parsed = parse_url(url)
    found = [parsed.password] if parsed.password else []
    for name, value in parsed.query.items():
        if "password" in name.lower():
            found.extend([value] if isinstance(value, str) else value)
    return [str(secret) for secret in found if secret]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets`` masked (as given, and percent-encoded as a URL
    carries it), and every password in a URL's userinfo, a ``password=`` query parameter
    or a ``...PASSWORD=`` assignment masked too, whoever wrote it."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, MASK)
    text = _USERINFO_PASSWORD.sub(rf"\1{MASK}@", text)
    text = _QUERY_PASSWORD.sub(rf"\1{MASK}", text)
    return _ASSIGNED_PASSWORD.sub(rf"\1{MASK}", text)
