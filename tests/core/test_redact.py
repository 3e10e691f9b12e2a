"""One redaction helper for every place a password could surface: the URL forms the
service's secret and fault suites start it with (userinfo, ``?password=``,
``?sslpassword=``, ``PGPASSWORD``; every driver's scheme; passwords that need
percent-encoding), in a URL shown on purpose, a command line and a log tail."""

from __future__ import annotations

import shlex
from urllib.parse import quote

import pytest

from poolscope._redact import MASK, mask_url, redact, url_secrets
from poolscope._urls import DRIVERS

PASSWORD = "S3cr3t-pw"
AWKWARD = "p@ss/w:rd%&x y"  # every character a URL must escape
HOST = "127.0.0.1:5432/shop"


def forms(password: str) -> list[tuple[str, str]]:
    """(URL, what it must show) for each form the service is started with."""
    escaped = quote(password, safe="")
    found = []
    for driver in ("postgresql", *(f"postgresql+{driver}" for driver in DRIVERS)):
        found += [
            (f"{driver}://app:{escaped}@{HOST}", f"{driver}://app:{MASK}@{HOST}"),
            (f"{driver}://app@{HOST}?password={escaped}", f"{driver}://app@{HOST}?password={MASK}"),
            (
                f"{driver}://app@{HOST}?sslmode=disable&sslpassword={escaped}",
                f"{driver}://app@{HOST}?sslmode=disable&sslpassword={MASK}",
            ),
        ]
    return found


@pytest.mark.parametrize("password", [PASSWORD, AWKWARD])
def test_every_url_form_is_masked_when_shown(password: str) -> None:
    for url, shown in forms(password):
        masked = mask_url(url)
        assert password not in masked
        assert quote(password, safe="") not in masked
        assert masked == shown.replace(
            "?sslmode=disable&sslpassword", "?sslmode=disable&sslpassword"
        )
        assert password in url_secrets(url)


@pytest.mark.parametrize("password", [PASSWORD, AWKWARD])
def test_a_command_line_holds_no_password(password: str) -> None:
    for url, shown in forms(password):
        command = (
            f"env PGPASSWORD={shlex.quote(password)} uvicorn app:app --database-url {url} --port 0"
        )
        redacted = redact(command)
        assert redacted == f"env PGPASSWORD={MASK} uvicorn app:app --database-url {shown} --port 0"


@pytest.mark.parametrize("password", [PASSWORD, AWKWARD])
def test_a_log_tail_holds_no_password_in_any_form(password: str) -> None:
    (url, _), (query_url, _) = forms(password)[:2]
    log = "\n".join(
        [
            f"connecting to {url}",
            f'FATAL: password authentication failed, password "{password}"',
            f"retrying {query_url}",
            f"escaped once more: {quote(password, safe='')}",
        ]
    )
    redacted = redact(log, url_secrets(url))
    assert password not in redacted
    assert quote(password, safe="") not in redacted
    assert redacted.splitlines()[1] == f'FATAL: password authentication failed, password "{MASK}"'


def test_text_without_secrets_is_left_alone() -> None:
    text = "GET /hold?seconds=1 200; postgresql://app@127.0.0.1/shop; a@b.c; x=1"
    assert redact(text, ["", "absent"]) == text
