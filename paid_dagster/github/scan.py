"""One repository's share of a label-sensor tick: which label events become runs, which are refused."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import RepoSettings
from ..keys import issue_key
from ..ledger import Ledger
from .client import GitHubClient, GitHubError, LabelEvent

SEEN_MEMORY = 500


@dataclass
class RepoCursor:
    etag: str | None = None
    since: str | None = None
    seen: list[int] = field(default_factory=list)

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

    @property
    def partition_key(self) -> str:
        return issue_key(self.repo, self.number)

    @property
    def run_key(self) -> str:
        # The label *event* id: the same event never runs twice, a new labeling is a new attempt.
        return f"{self.partition_key}:label-event:{self.event.id}"


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
        candidates: list[Trigger] = []
        for issue in poll.issues:
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
                record_ignored(ledger, settings.name, issue["number"], event, reason)
                outcome.ignored.append(f"#{issue['number']}: {reason}")
                continue
            candidates.append(Trigger(settings.name, issue["number"], event, permission))
        if first_tick and len(candidates) > backlog_cap:
            for skipped in candidates[backlog_cap:]:
                reason = f"first tick backlog is capped at {backlog_cap}; relabel the issue to run it"
                record_ignored(ledger, settings.name, skipped.number, skipped.event, reason)
                outcome.ignored.append(f"#{skipped.number}: {reason}")
            candidates = candidates[:backlog_cap]
        for trigger in candidates:
            ledger.append(
                trigger.partition_key,
                "issue.labeled",
                {
                    "repo": trigger.repo,
                    "number": trigger.number,
                    "label": trigger.event.label,
                    "labeler": trigger.event.actor,
                    "label_event_id": trigger.event.id,
                    "labeled_at": trigger.event.created_at,
                    "permission": trigger.permission,
                },
                idempotency_key=f"issue.labeled:{trigger.run_key}",
            )
        outcome.triggers = candidates
        newest = max((i["updated_at"] for i in poll.issues), default=cursor.since)
        outcome.cursor = RepoCursor(etag=poll.etag, since=newest or cursor.since, seen=seen[-SEEN_MEMORY:])
    except GitHubError as exc:
        outcome.error = str(exc)
        outcome.triggers = []
        outcome.cursor = cursor
    return outcome


def record_ignored(ledger: Ledger, repo: str, number: int, event: LabelEvent, reason: str) -> None:
    ledger.append(
        issue_key(repo, number),
        "issue.label_ignored",
        {
            "repo": repo,
            "number": number,
            "labeler": event.actor,
            "label_event_id": event.id,
            "reason": reason,
        },
        idempotency_key=f"issue.label_ignored:{repo}:{event.id}",
    )
