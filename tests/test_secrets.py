"""Secrets known by value and masked in every encoding; hostile text made safe; log records masked."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest

from paid_dagster.safe_text import clean, one_line
from paid_dagster.secrets import REDACTED, SECRETS, mask_log_records, redact

TOKEN = "ghs_TestTokenValue0123456789abcdefXYZ"
DB_PASSWORD = "Db-Passw0rd-7731xq"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_VAR_WITH_A_BORING_NAME", "nothing secret here at all")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://paid:{DB_PASSWORD}@db.internal:5432/paid")
    monkeypatch.setenv("MY_PROVIDER", "zz-provider-value-99887766")
    monkeypatch.setenv("PAID_SECRET_ENV", "MY_PROVIDER")
    SECRETS.register(TOKEN, "the GitHub token")


@pytest.mark.parametrize(
    "text",
    [
        f"plain {TOKEN} here",
        "Authorization: Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode(),
        "offset 1 " + base64.b64encode(b"a" + TOKEN.encode()).decode(),
        "offset 2 " + base64.b64encode(b"ab" + TOKEN.encode() + b"tail").decode(),
        "urlsafe " + base64.urlsafe_b64encode(b"?>" + TOKEN.encode()).decode(),
        "url-encoded " + quote(f"{DB_PASSWORD}", safe=""),
        f"the password {DB_PASSWORD} alone",
        "basic for the db " + base64.b64encode(f"paid:{DB_PASSWORD}".encode()).decode(),
        "a variable listed in PAID_SECRET_ENV: zz-provider-value-99887766",
    ],
)
def test_every_form_of_a_secret_is_masked(text: str) -> None:
    masked = redact(text)
    assert REDACTED in masked
    for value in (TOKEN, DB_PASSWORD, "zz-provider-value-99887766"):
        assert value not in masked
    assert SECRETS.found_in(text), "the scanner must see what the masker masks"


def test_ordinary_text_is_left_alone() -> None:
    text = "nothing secret here: postgres, postgresql+psycopg2, a base64 run aGVsbG8gd29ybGQ= and words"
    assert redact(text) == text and SECRETS.found_in(text) == []


def test_a_weak_password_is_masked_where_a_url_carries_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEAK_URL", "postgresql://postgres:postgres@127.0.0.1/db")
    masked = redact("connect to postgresql://postgres:postgres@127.0.0.1/db as postgres")
    assert ":postgres@" not in masked and masked.endswith("as postgres")


def test_log_records_are_masked_whoever_logs_them(caplog: pytest.LogCaptureFixture) -> None:
    mask_log_records()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("connecting with %s and %s", TOKEN, DB_PASSWORD)
    assert TOKEN not in caplog.text and DB_PASSWORD not in caplog.text and REDACTED in caplog.text


def test_hostile_text_is_made_safe() -> None:
    hostile = "Fix\x00 \x1b[31mred\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07 \u202eevil\u202c \u200bzero\r\nnext"
    title = one_line(hostile + " x" * 5000)
    assert title.startswith("Fix red link evil zero next") and len(title) <= 200
    assert not any(ch in title for ch in "\x00\x1b\x07\u202e\u202c\u200b\r\n")
    body = clean("line one\r\nline two\x07\x1b[2J", 100)
    assert body == "line one\nline two"
    assert one_line("\x00\x1b[0m\u202e", fallback="Issue #7") == "Issue #7"
    assert clean(b"\xff\xfe bytes", 100).endswith(" bytes") and "\ufffd" in clean(b"\xff", 10)
