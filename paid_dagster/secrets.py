"""Keeping secrets out of everything Paid writes: events, logs, metadata, PR bodies, prompts, commits, sandboxes.

Secrets are known by *value*, not by the name of the variable that holds them. The registry holds every value
Paid must never let out: the ones registered explicitly (the GitHub tokens, the model's key, the variables
listed under `secret_env` in paid.yaml), every environment variable whose name says it is a secret, and every
password inside a URL in the environment (`DATABASE_URL=postgresql://user:PASSWORD@host/db`). Masking covers
each value and its usual encodings: URL-encoded, and base64 at any offset inside a longer encoded text (so
`Authorization: Basic base64("x-access-token:" + token)` is caught as well as the token itself).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote

TOKEN_PATTERNS = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9_-]{16,}|"
    r"xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:(?P<password>[^@\s/]+)@")
REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8


def strong(value: str) -> bool:
    """A value distinctive enough to be masked wherever it appears; a weak one (`postgres`) only in context."""
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    return len(value) >= MIN_SECRET_CHARS and (classes >= 2 or len(value) >= 20)


@lru_cache(maxsize=512)
def _base64_cores(value: str) -> tuple[str, ...]:
    """The part of base64(… + value + …) that depends on the value alone, for each of the three alignments."""
    raw = value.encode()
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode().rstrip("=")
        start = 4 if offset else 0  # the first group mixes the unknown prefix with the value
        end = len(encoded) - (4 if (offset + len(raw)) % 3 else 0)  # so does the last, with the unknown suffix
        core = encoded[start:end]
        if len(core) >= MIN_SECRET_CHARS:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return tuple(sorted(cores, key=len, reverse=True))


@lru_cache(maxsize=512)
def _literal_forms(value: str, anywhere: bool) -> tuple[str, ...]:
    """The value itself and URL-encoded; a weak value only where a URL carries it as a password."""
    if anywhere:
        forms = {value, quote(value, safe=""), quote_plus(value), unquote(value)}
    else:
        forms = {f":{value}@", f":{quote(value, safe='')}@"}
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-=")


def _mask_base64(text: str, core: str) -> str:
    """Masks every base64 run that contains `core`, the whole run (linear: no regex backtracking)."""
    out, position = [], 0
    while (hit := text.find(core, position)) != -1:
        start, end = hit, hit + len(core)
        while start > position and text[start - 1] in B64_CHARS:
            start -= 1
        while end < len(text) and text[end] in B64_CHARS:
            end += 1
        out += [text[position:start], REDACTED]
        position = end
    return "".join(out) + text[position:] if out else text


def _mask_value(text: str, value: str) -> str:
    anywhere = strong(value)
    for form in _literal_forms(value, anywhere):
        if form in text:
            text = text.replace(form, REDACTED if anywhere else f":{REDACTED}@")
    if anywhere:
        for core in _base64_cores(value):
            if core in text:
                text = _mask_base64(text, core)
    return text


def _contains(text: str, value: str) -> bool:
    anywhere = strong(value)
    forms = _literal_forms(value, anywhere) + (_base64_cores(value) if anywhere else ())
    return any(form in text for form in forms)


class SecretRegistry:
    """Every secret value Paid knows, each with the name of where it came from (never the value) for reports."""

    def __init__(self) -> None:
        self._registered: dict[str, str] = {}
        self._lock = threading.Lock()

    def register(self, value: str | None, origin: str) -> None:
        if value and len(value) >= MIN_SECRET_CHARS:
            with self._lock:
                self._registered.setdefault(value, origin)
            match = URL_PASSWORD.match(value)
            if match:
                self.register(unquote(match["password"]), f"password in {origin}")

    def register_env(self, *names: str | None) -> None:
        for name in names:
            if name:
                self.register(os.environ.get(name), name)

    def known(self, environ: dict[str, str] | None = None) -> dict[str, str]:
        """Value → origin: the registered values and what the environment holds now."""
        env = os.environ if environ is None else environ
        found: dict[str, str] = {}
        for name, value in env.items():
            if len(value) < MIN_SECRET_CHARS:
                continue
            if SECRET_NAME.search(name):
                found.setdefault(value, name)
            match = URL_PASSWORD.match(value)
            if match:
                found.setdefault(value, name)
                found.setdefault(unquote(match["password"]), f"password in {name}")
        for name in env.get("PAID_SECRET_ENV", "").split(","):
            if env.get(name.strip()):
                found.setdefault(env[name.strip()], name.strip())
        with self._lock:
            found.update(self._registered)
        return found

    def mask(self, text: str, extra: list[str] | None = None) -> str:
        if not text:
            return text
        values = self.known()
        for value in extra or []:
            if value and len(value) >= MIN_SECRET_CHARS:
                values.setdefault(value, "extra")
        for value in sorted(values, key=len, reverse=True):
            text = _mask_value(text, value)
        return TOKEN_PATTERNS.sub(REDACTED, text)

    def found_in(self, text: str) -> list[str]:
        """The origins (names, never values) of the secrets that appear in `text`, in any masked form."""
        hits = {origin for value, origin in self.known().items() if _contains(text, value)}
        if TOKEN_PATTERNS.search(text):
            hits.add("a token-shaped string")
        return sorted(hits)


SECRETS = SecretRegistry()


def redact(text: str, extra: list[str] | None = None) -> str:
    return SECRETS.mask(text, extra)


def redact_obj(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v) for v in value]
    return value


_factory_installed = False


def mask_log_records() -> None:
    """Every log record made in this process, by Paid, Dagster or a library, has its secrets masked before any
    handler (console, Dagster's event log, compute logs) sees it."""
    global _factory_installed
    if _factory_installed:
        return
    original = logging.getLogRecordFactory()

    def masked(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return record
        masked_message = SECRETS.mask(message)
        if masked_message != message:
            record.msg, record.args = masked_message, None
        return record

    logging.setLogRecordFactory(masked)
    _factory_installed = True
