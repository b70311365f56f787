"""The one way Paid writes to GitHub: every side effect (pull request, comment, review, label) exactly once.

A write goes: its intent recorded in the ledger → GitHub asked whether it is already there (Paid's marker in a
comment or review body, the open pull request of the branch, a label present) → written only if absent →
its result recorded under its idempotency key. So a crash between "posted" and "recorded", a write GitHub
applied but answered too late (the HTTP layer never resends a write, see `client.PaidRetry`), or a 5xx on the
write itself is followed by a look, never by a blind second post.

Nothing else in the product calls the client's write methods (a test checks it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..keys import idempotency_key
from ..ledger import Ledger
from ..ledger.kinds import Kind
from .client import GitHubClient, GitHubError

T = TypeVar("T")

MARKER = "<!-- paid:{kind}:{ref} -->"
WRITE_ATTEMPTS = 3  # a write that failed transiently is looked for, then written again, at most this often
LOOK_AGAIN_SECONDS = 0.5  # before looking after a failed write, so that a slow write has landed


@dataclass(frozen=True)
class Record:
    """The fact that says the write was done: recorded after it, under its idempotency key."""

    kind: Kind
    data: dict[str, Any]
    key: str


@dataclass(frozen=True)
class SideEffect(Generic[T]):
    stream: str  # the ledger stream (the issue key)
    intent: str  # what makes this write one write: the intent's idempotency key
    what: str  # for people and the ledger: "the pr-link comment on o/r#3"
    find: Callable[[], T | None]  # the write's object on GitHub, when it is already there
    apply: Callable[[], T]  # the write itself
    record: Callable[[T, bool], Record]  # the fact recorded after it (its value, whether this call wrote it)
    done: str | None = None  # a ledger key that, when present, says the write was recorded already


@dataclass(frozen=True)
class Applied(Generic[T]):
    value: T | None  # None when the ledger said it was done and GitHub was not asked
    written: bool  # this call wrote it (False: found on GitHub, or recorded before)
    writes: int = 0  # write requests sent by this call
    notes: list[str] = field(default_factory=list)


def once(ledger: Ledger, effect: SideEffect[T]) -> Applied[T]:
    """Does the write unless the ledger or GitHub says it was done; records it either way."""
    if effect.done is not None and ledger.has(effect.done):
        return Applied(None, False)
    ledger.append(
        effect.stream,
        Kind.EFFECT_INTENDED,
        {"intent": effect.intent, "what": effect.what},
        idempotency_key=idempotency_key(Kind.EFFECT_INTENDED, effect.intent),
    )
    value, written, writes = _find_or_write(effect)
    record = effect.record(value, written)
    ledger.append(effect.stream, record.kind, record.data, idempotency_key=record.key)
    return Applied(value, written, writes)


def _find_or_write(effect: SideEffect[T]) -> tuple[T, bool, int]:
    writes = 0
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        found = effect.find()
        if found is not None:
            return found, False, writes
        try:
            writes += 1
            return effect.apply(), True, writes
        except GitHubError as exc:
            if not exc.transient or attempt == WRITE_ATTEMPTS:
                raise
            time.sleep(LOOK_AGAIN_SECONDS * attempt)  # it may have been applied: look before writing again
    raise AssertionError("unreachable")


# --- the writes Paid makes ------------------------------------------------------------------------------


def comment(
    client: GitHubClient,
    ledger: Ledger,
    stream: str,
    repo: str,
    number: int,
    marker: str,
    body: str,
    record: Callable[[str | None, bool], Record],
    done: str | None = None,
) -> Applied[str | None]:
    """One comment carrying `marker` on issue (or pull request) `number`; its URL is the value."""

    def find() -> str | None:
        return client.find_comment(repo, number, marker)

    def apply() -> str | None:
        return client.comment(repo, number, f"{body}\n\n{marker}" if marker not in body else body)

    return once(
        ledger,
        SideEffect(
            stream, f"comment:{repo}#{number}:{marker}", f"a comment on {repo}#{number}", find, apply, record, done
        ),
    )


def label(
    client: GitHubClient, ledger: Ledger, stream: str, repo: str, number: int, name: str, purpose: str, ref: str
) -> Applied[bool]:
    """Label `name` on the issue, once per `ref`."""
    key = idempotency_key(Kind.LABEL_ADDED, stream, name, ref)

    def find() -> bool | None:
        return True if client.has_label(repo, number, name) else None

    def apply() -> bool:
        client.add_label(repo, number, name)
        return True

    def record(_: bool, written: bool) -> Record:
        return Record(Kind.LABEL_ADDED, {"label": name, "purpose": purpose, "ref": ref, "written": written}, key)

    return once(
        ledger,
        SideEffect(
            stream,
            f"label:{repo}#{number}:{name}:{ref}",
            f"label {name!r} on {repo}#{number}",
            find,
            apply,
            record,
            key,
        ),
    )


def unlabel(
    client: GitHubClient, ledger: Ledger, stream: str, repo: str, number: int, name: str, ref: str
) -> Applied[bool]:
    """Label `name` off the issue, once per `ref` (removing an absent label is nothing)."""
    key = idempotency_key(Kind.LABEL_REMOVED, stream, name, ref)

    def find() -> bool | None:
        return None if client.has_label(repo, number, name) else True

    def apply() -> bool:
        client.remove_label(repo, number, name)
        return True

    def record(_: bool, written: bool) -> Record:
        return Record(Kind.LABEL_REMOVED, {"label": name, "ref": ref, "written": written}, key)

    return once(
        ledger,
        SideEffect(
            stream,
            f"unlabel:{repo}#{number}:{name}:{ref}",
            f"label {name!r} off {repo}#{number}",
            find,
            apply,
            record,
            key,
        ),
    )


def review(
    client: GitHubClient,
    ledger: Ledger,
    stream: str,
    repo: str,
    pr: int,
    marker: str,
    event: str,
    body: str,
    comments: list[dict[str, Any]],
    record: Callable[[str, bool], Record],
    done: str,
) -> Applied[str]:
    """One review whose body carries `marker` on pull request `pr`; its state is the value."""

    def find() -> str | None:
        return client.find_review(repo, pr, marker)

    def apply() -> str:
        return client.post_review(repo, pr, event, f"{body}\n\n{marker}" if marker not in body else body, comments)

    return once(
        ledger,
        SideEffect(stream, f"review:{repo}#{pr}:{marker}", f"a review on {repo}#{pr}", find, apply, record, done),
    )
