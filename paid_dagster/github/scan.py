"""One repository's share of a label-sensor tick: which label events become runs, which are refused."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import RepoSettings
from ..keys import idempotency_key, issue_key
from ..learning.decisions import Decision, DecisionKind, decision_key, record_decision
from ..ledger import Ledger
from ..ledger.kinds import Kind
from .client import GitHubClient, GitHubError, LabelEvent
from .publish import NEEDS_INFO

SEEN_MEMORY = 500
TRIGGER_CHOICES = ("accepted", "refused")


@dataclass
class RepoCursor:
    etag: str | None = None
    since: str | None = None
    seen: list[int] = field(default_factory=list)
    seen_replies: list[int] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RepoCursor:
        return cls(**data) if data else cls()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Trigger:
    repo: str
    number: int
    event: LabelEvent
    permission: str
    cause: str = "label"  # label | reply (the author answered Paid's triage question)

    @property
    def partition_key(self) -> str:
        return issue_key(self.repo, self.number)

    @property
    def run_key(self) -> str:
        # The label *event* id: the same event never runs twice, a new labeling is a new attempt.
        kind = "label-event" if self.cause == "label" else "reply"
        return f"{self.partition_key}:{kind}:{self.event.id}"


@dataclass
class ScanOutcome:
    repo: str
    cursor: RepoCursor
    triggers: list[Trigger] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    requests: int = 0
    points: int = 0
    error: str | None = None
    not_modified: bool = False


def scan_repository(
    client: GitHubClient, settings: RepoSettings, cursor: RepoCursor, ledger: Ledger, backlog_cap: int
) -> ScanOutcome:
    """Never raises for GitHub trouble: the error is returned and the cursor stays where it was."""
    outcome = ScanOutcome(settings.name, cursor)
    try:
        poll = client.poll_labeled(settings.name, settings.trigger_label, cursor.since, cursor.etag)
        outcome.requests, outcome.points = poll.requests, poll.points
        if poll.not_modified:
            outcome.not_modified = True
            return outcome
        first_tick = cursor.since is None
        seen = list(cursor.seen)
        seen_replies = list(cursor.seen_replies)
        candidates: list[Trigger] = []
        for issue in poll.issues:
            reply = author_reply(client, ledger, settings.name, issue, seen_replies)
            if reply is not None:
                seen_replies.append(reply.event.id)
                candidates.append(reply)
                continue
            event = client.label_event(settings.name, issue["number"], settings.trigger_label)
            if event is None or event.id in seen:
                continue
            seen.append(event.id)
            permission = client.permission(settings.name, event.actor)
            if permission not in settings.trusted_permissions:
                reason = (
                    f"{event.actor} has {permission!r} permission on {settings.name}; only"
                    f" {', '.join(settings.trusted_permissions)} may trigger Paid"
                )
                record_ignored(ledger, settings.name, issue["number"], event, reason, "untrusted_labeler")
                outcome.ignored.append(f"#{issue['number']}: {reason}")
                continue
            candidates.append(Trigger(settings.name, issue["number"], event, permission))
        if first_tick and len(candidates) > backlog_cap:
            for skipped in candidates[backlog_cap:]:
                reason = f"first tick backlog is capped at {backlog_cap}; relabel the issue to run it"
                record_ignored(ledger, settings.name, skipped.number, skipped.event, reason, "backlog_cap")
                outcome.ignored.append(f"#{skipped.number}: {reason}")
            candidates = candidates[:backlog_cap]
        for trigger in candidates:
            ledger.append(
                trigger.partition_key,
                Kind.ISSUE_LABELED,
                {
                    "repo": trigger.repo,
                    "number": trigger.number,
                    "label": trigger.event.label,
                    "labeler": trigger.event.actor,
                    "label_event_id": trigger.event.id,
                    "cause": trigger.cause,
                    "labeled_at": trigger.event.created_at,
                    "permission": trigger.permission,
                },
                idempotency_key=idempotency_key(Kind.ISSUE_LABELED, trigger.run_key),
            )
            record_trigger(ledger, trigger)
        outcome.triggers = candidates
        newest = max((i["updated_at"] for i in poll.issues), default=cursor.since)
        outcome.cursor = RepoCursor(
            etag=poll.etag,
            since=newest or cursor.since,
            seen=seen[-SEEN_MEMORY:],
            seen_replies=seen_replies[-SEEN_MEMORY:],
        )
    except GitHubError as exc:
        outcome.error = str(exc)
        outcome.triggers = []
        outcome.cursor = cursor
    return outcome


def record_trigger(ledger: Ledger, trigger: Trigger) -> None:
    """A label by a trusted person, or the author's reply to the triage question, accepted: once per event."""
    rationale = (
        f"{trigger.event.actor} has {trigger.permission!r} permission"
        if trigger.cause == "label"
        else f"{trigger.event.actor}, the issue's author, answered the triage question"
    )
    decision = Decision(
        DecisionKind.TRIGGER,
        "accepted",
        rationale,
        TRIGGER_CHOICES,
        {
            "cause": trigger.cause,
            "labeler": trigger.event.actor,
            "permission": trigger.permission,
            "label_event_id": trigger.event.id,
        },
    )
    record_decision(ledger, trigger.partition_key, decision, decision_key(DecisionKind.TRIGGER, trigger.run_key))


def record_ignored(ledger: Ledger, repo: str, number: int, event: LabelEvent, reason: str, why: str) -> None:
    """A label event refused (`why`: untrusted_labeler, backlog_cap): the fact and the decision, once each."""
    key = issue_key(repo, number)
    decision = Decision(
        DecisionKind.TRIGGER,
        "refused",
        reason,
        TRIGGER_CHOICES,
        {"cause": "label", "why": why, "labeler": event.actor, "label_event_id": event.id},
    )
    record_decision(ledger, key, decision, decision_key(DecisionKind.TRIGGER, repo, event.id))
    ledger.append(
        key,
        Kind.ISSUE_LABEL_IGNORED,
        {
            "repo": repo,
            "number": number,
            "labeler": event.actor,
            "label_event_id": event.id,
            "reason": reason,
        },
        idempotency_key=idempotency_key(Kind.ISSUE_LABEL_IGNORED, repo, event.id),
    )


def author_reply(
    client: GitHubClient, ledger: Ledger, repo: str, issue: dict[str, Any], seen: list[int]
) -> Trigger | None:
    """The issue author's answer to Paid's triage question, on an issue still waiting with `needs-info`."""
    if NEEDS_INFO not in {label["name"] for label in issue.get("labels", [])}:
        return None
    asked = [
        e
        for e in ledger.read(stream=issue_key(repo, issue["number"]), kinds=[Kind.ISSUE_COMMENTED])
        if e.data.get("purpose") == "triage-question"
    ]
    if not asked:
        return None
    since = asked[-1].at.strftime("%Y-%m-%dT%H:%M:%SZ")
    author = (issue.get("user") or {}).get("login")
    replies = [
        c
        for c in client.comments_after(repo, issue["number"], since)
        if (c.get("user") or {}).get("login") == author
        and "<!-- paid:" not in (c.get("body") or "")
        and c["id"] not in seen
    ]
    if not replies:
        return None
    newest = replies[-1]
    event = LabelEvent(int(newest["id"]), str(author), NEEDS_INFO, newest["created_at"])
    return Trigger(repo, int(issue["number"]), event, "author", cause="reply")
