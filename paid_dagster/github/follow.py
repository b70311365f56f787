"""What one look at a Paid pull request leads to: facts in the ledger, a re-score, a retry, a follow-up run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import RepoSettings
from ..keys import idempotency_key, parse_issue_key
from ..learning.decisions import Decision, DecisionKind, decision_key, record_decision
from ..ledger import Ledger
from ..ledger.kinds import Kind
from .client import GitHubClient
from .observe import _nobody, changed_since, observe_pull, pr_events
from .publish import hand_to_person


@dataclass
class FollowOutcome:
    score_run_key: str | None = None
    retry_run_keys: list[str] = field(default_factory=list)
    follow_up: tuple[str, str, str] | None = None  # (run key, reason, details)
    settled: bool = False
    changed: bool = False
    note: str | None = None  # why a follow-up was not started


def open_paid_pulls(ledger: Ledger) -> dict[str, tuple[str, int]]:
    """Issue key → (repo, PR number) for every PR Paid opened that no observation has seen closed."""
    pulls: dict[str, tuple[str, int]] = {}
    for event in ledger.iter(kinds=[Kind.PR_OPENED]):
        pulls[event.stream] = (parse_issue_key(event.stream)[0], int(event.data["pr_number"]))
    for event in ledger.iter(kinds=[Kind.PR_OBSERVED]):
        if event.stream in pulls and (event.data.get("merged") or event.data.get("state") == "closed"):
            pulls.pop(event.stream, None)
    return pulls


FOLLOW_UPS = ("requested", "refused", "exhausted", "blocked")

# Facts that hand an issue to a person: after them, Paid starts no follow-up run on its own.
ESCALATIONS = (Kind.REVIEW_ESCALATED, Kind.FOLLOW_UP_EXHAUSTED)


def escalated(ledger: Ledger, key: str) -> bool:
    """Whether the issue was handed to a person (`paid-needs-human`) since its latest labeling."""
    labeled = ledger.last(key, Kind.ISSUE_LABELED)
    since = labeled.seq if labeled is not None else 0
    return any((event := ledger.last(key, kind)) is not None and event.seq > since for kind in ESCALATIONS)


def follow_pull(
    client: GitHubClient,
    ledger: Ledger,
    settings: RepoSettings,
    key: str,
    pr_number: int,
    etags: dict[str, str],
    is_trusted: Callable[[str], bool],
    is_paid: Callable[[str], bool] = _nobody,
) -> FollowOutcome:
    """`is_paid(login)`: whether a login is one of Paid's own identities, whose reviews are not people's."""
    outcome = FollowOutcome()
    tell_about_exhaustion(client, ledger, key)  # a notice a crash or a GitHub error left unsaid
    last = ledger.last(key, Kind.PR_OBSERVED)
    head = last.data.get("head_sha") if last else None
    if last is not None and not changed_since(client, settings.name, pr_number, head, etags):
        return outcome
    observation = observe_pull(client, settings.name, pr_number, is_trusted, is_paid)
    changed_since(client, settings.name, pr_number, observation.head_sha, etags)  # remember the new ETags
    fingerprint = observation.fingerprint()
    new_facts: list[str] = []
    if (
        ledger.append(
            key,
            Kind.PR_OBSERVED,
            {**pr_events(observation), "fingerprint": fingerprint},
            idempotency_key=idempotency_key(Kind.PR_OBSERVED, key, fingerprint),
        )
        is not None
    ):
        new_facts.append(fingerprint)
    for item in observation.feedback:
        data: dict[str, Any] = {
            "user": item.user,
            "source": item.source,
            "vote": item.vote,
            "command": item.command,
            "pr_number": pr_number,
        }
        if (
            ledger.append(
                key, Kind.FEEDBACK_RECEIVED, data, idempotency_key=idempotency_key(Kind.FEEDBACK_RECEIVED, key, item.id)
            )
            is None
        ):
            continue
        new_facts.append(item.id)
        if item.command == "retry":
            outcome.retry_run_keys.append(f"{key}:retry:{item.id}")
            retry = Decision(
                DecisionKind.TRIGGER,
                "accepted",
                f"{item.user} commented `/paid retry` on pull request #{pr_number}",
                ("accepted", "refused"),
                {"cause": "retry_command", "user": item.user, "pr_number": pr_number},
            )
            record_decision(ledger, key, retry, decision_key(DecisionKind.TRIGGER, key, "retry", item.id))
    outcome.changed = bool(new_facts)
    outcome.settled = observation.merged or observation.state == "closed"
    if new_facts:
        outcome.score_run_key = f"{key}:score:" + ":".join(new_facts)
    if not outcome.settled and new_facts and fingerprint in new_facts:
        reason, details = _follow_up_reason(observation)
        done = len(ledger.read(stream=key, kinds=[Kind.FOLLOW_UP_REQUESTED])) if reason else 0
        facts = {"reason": reason, "head_sha": observation.head_sha, "pr_number": pr_number, "used": done}
        facts["limit"] = settings.max_follow_ups
        if reason and escalated(ledger, key):
            outcome.note = f"no follow-up ({reason}): the issue was handed to a person (paid-needs-human)"
            refusal = Decision(DecisionKind.FOLLOW_UP, "refused", "the issue was handed to a person", FOLLOW_UPS, facts)
            record_decision(ledger, key, refusal, decision_key(DecisionKind.FOLLOW_UP, "refused", key, fingerprint))
        elif reason:
            if done < settings.max_follow_ups:
                run_key = f"{key}:follow_up:{reason}:{observation.head_sha}"
                if (
                    ledger.append(
                        key,
                        Kind.FOLLOW_UP_REQUESTED,
                        {
                            "reason": reason,
                            "details": details,
                            "head_sha": observation.head_sha,
                            "pr_number": pr_number,
                        },
                        idempotency_key=idempotency_key(Kind.FOLLOW_UP_REQUESTED, run_key),
                    )
                    is not None
                ):
                    outcome.follow_up = (run_key, reason, details)
                why = f"{reason}: follow-up {done + 1} of {settings.max_follow_ups}"
                requested = Decision(DecisionKind.FOLLOW_UP, "requested", why, FOLLOW_UPS, facts)
                record_decision(ledger, key, requested, decision_key(DecisionKind.FOLLOW_UP, run_key))
            elif not any(e.data.get("escalated") for e in ledger.read(stream=key, kinds=[Kind.FOLLOW_UP_EXHAUSTED])):
                ledger.append(
                    key,
                    Kind.FOLLOW_UP_EXHAUSTED,
                    {
                        "escalated": True,
                        "reason": reason,
                        "details": details,
                        "limit": settings.max_follow_ups,
                        "pr_number": pr_number,
                        "head_sha": observation.head_sha,
                    },
                )
                why = f"all {settings.max_follow_ups} follow-ups used and {reason}: handed to a person"
                exhausted = Decision(DecisionKind.FOLLOW_UP, "exhausted", why, FOLLOW_UPS, facts)
                record_decision(
                    ledger, key, exhausted, decision_key(DecisionKind.FOLLOW_UP, "exhausted", key, fingerprint)
                )
                tell_about_exhaustion(client, ledger, key)
                outcome.note = f"no follow-up ({reason}): all {settings.max_follow_ups} used; handed to a person"
    return outcome


def tell_about_exhaustion(client: GitHubClient, ledger: Ledger, key: str) -> bool:
    """When the follow-ups ran out: one comment on the issue and `paid-needs-human` (once per exhaustion)."""
    exhausted = ledger.last(key, Kind.FOLLOW_UP_EXHAUSTED)
    if exhausted is None or not exhausted.data.get("escalated"):
        return False
    repo, number = parse_issue_key(key)
    limit, reason = exhausted.data.get("limit"), exhausted.data.get("reason", "")
    what = {"ci_failed": "CI still fails", "changes_requested": "changes are still requested"}.get(reason, reason)
    pr = exhausted.data.get("pr_number")
    details = str(exhausted.data.get("details") or "").strip()
    text = (
        f"I used all {limit} follow-up run(s) on pull request #{pr} and {what}, so this needs a person;"
        " I will not start another follow-up on my own."
        + (f" What is left:\n\n```\n{details[:2000]}\n```" if details else "")
        + "\n\nComment `/paid retry` on the pull request (or relabel the issue) to let me try again."
    )
    ref = f"followups-exhausted:{pr}:{exhausted.data.get('head_sha') or exhausted.seq}"
    return hand_to_person(client, ledger, repo, number, ref, text)


def _follow_up_reason(observation: Any) -> tuple[str | None, str]:
    if observation.ci == "failure":
        return "ci_failed", "\n".join(observation.ci_details) or "CI failed on the head commit"
    if "CHANGES_REQUESTED" in observation.reviews.values():
        return "changes_requested", "\n".join(observation.review_notes) or "a reviewer requested changes"
    return None, ""


def record_blocked_follow_up(ledger: Ledger, key: str, run_key: str, cause: str, blocked: str) -> None:
    """A follow-up (or `/paid retry`) run not started because the project's gate or budget stops dispatch."""
    decision = Decision(DecisionKind.FOLLOW_UP, "blocked", blocked, FOLLOW_UPS, {"reason": cause, "run_key": run_key})
    record_decision(ledger, key, decision, decision_key(DecisionKind.FOLLOW_UP, "blocked", run_key))
