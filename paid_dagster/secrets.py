"""Keeping secrets out of everything Paid writes: events, logs, metadata, PR bodies, prompts, sandboxes."""

from __future__ import annotations

import os
import re
from typing import Any

TOKEN_PATTERNS = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9_-]{16,}|"
    r"xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
REDACTED = "[redacted]"


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return sorted({v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= 8}, key=len, reverse=True)


def redact(text: str, extra: list[str] | None = None) -> str:
    for value in [*(extra or []), *secret_values()]:
        if value and value in text:
            text = text.replace(value, REDACTED)
    return TOKEN_PATTERNS.sub(REDACTED, text)


def redact_obj(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v) for v in value]
    return value


def scrubbed_environment(keep: tuple[str, ...] = ("LANG", "LC_ALL", "TZ"), extra_path: str = "") -> dict[str, str]:
    """The environment a sandboxed command gets: a fixed PATH and nothing of the host's."""
    env = {k: os.environ[k] for k in keep if k in os.environ}
    path = "/usr/local/bin:/usr/bin:/bin"
    env.update({"PATH": f"{extra_path}:{path}" if extra_path else path, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"})
    return env
