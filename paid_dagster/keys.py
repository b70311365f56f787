"""Issue partition keys: `owner__repo__number`, safe in URLs, backfill dialogs and Dagster's UI.

GitHub logins never contain underscores, so the first `__` ends the owner and the last starts the number.
"""

from __future__ import annotations

import re

KEY = re.compile(r"^(?P<owner>[A-Za-z0-9-]+)__(?P<repo>[A-Za-z0-9_.-]+)__(?P<number>\d+)$")


def issue_key(repo: str, number: int) -> str:
    owner, name = repo.split("/", 1)
    return f"{owner}__{name}__{number}"


def parse_issue_key(key: str) -> tuple[str, int]:
    match = KEY.match(key)
    if not match:
        raise ValueError(f"{key!r} is not an issue partition key (owner__repo__number)")
    return f"{match['owner']}/{match['repo']}", int(match["number"])


def idempotency_key(kind: str, *parts: object) -> str:
    """The key that makes a fact or a side effect happen once: its kind, then what identifies it (an issue is
    always named by `issue_key`), joined by colons."""
    return ":".join([str(kind), *(str(p) for p in parts)])


def branch_name(prefix: str, number: int, title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "issue"
    return f"{prefix}{number}-{slug}"
