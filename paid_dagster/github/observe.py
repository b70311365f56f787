"""Following a pull request Paid opened: its state, CI on the head commit, reviews, and people's feedback."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from github import GithubException

from .client import GitHubClient

COMMANDS = {"+1": 1, "-1": -1, "/paid retry": 0}
PAID_MARKER = "<!-- paid:"  # every body Paid posts carries `<!-- paid:<kind>:<ref> -->`


def _nobody(_login: str) -> bool:
    return False


@dataclass(frozen=True)
class Feedback:
    id: str
    user: str
    source: str  # reaction | comment
    vote: int | None  # +1 / -1
    command: str | None  # retry


@dataclass
class PullObservation:
    pr_number: int
    state: str
    merged: bool
    draft: bool
    head_sha: str
    ci: str  # success | failure | pending | none
    ci_details: list[str] = field(default_factory=list)
    reviews: dict[str, str] = field(default_factory=dict)
    review_notes: list[str] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)

    def fingerprint(self) -> str:
        core = {k: v for k, v in asdict(self).items() if k not in ("feedback", "ci_details", "review_notes")}
        return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]


def changed_since(client: GitHubClient, repo: str, number: int, head_sha: str | None, etags: dict[str, str]) -> bool:
    """Conditional requests on the PR, its reactions and comments, and its head's CI: False when all are 304."""
    urls = [
        f"/repos/{repo}/pulls/{number}",
        f"/repos/{repo}/issues/{number}/reactions",
        f"/repos/{repo}/issues/{number}/comments",
    ]
    if head_sha:
        urls += [f"/repos/{repo}/commits/{head_sha}/check-runs", f"/repos/{repo}/commits/{head_sha}/status"]
    changed = False
    with client.explained(f"checking pull request {repo}#{number}"):
        for url in urls:
            headers = {"If-None-Match": etags[url]} if url in etags else {}
            status, response_headers, body = client.gh.requester.requestJson("GET", url, headers=headers)
            if status == 304:
                continue
            if status >= 400:
                raise GithubException(status, json.loads(body) if body else {}, response_headers)
            etags[url] = response_headers.get("etag", "")
            changed = True
    return changed


def observe_pull(
    client: GitHubClient,
    repo: str,
    number: int,
    trusted: Callable[[str], bool],
    is_paid: Callable[[str], bool] = _nobody,
) -> PullObservation:
    """`is_paid(login)`: whether a login is one of Paid's own identities (its token's, its review token's).

    Paid's own reviews (by those identities, or carrying Paid's marker) are not people's: they never count as
    approvals or requested changes, so they can never start a follow-up run."""
    with client.explained(f"observing pull request {repo}#{number}"):
        gh_repo = client.repo(repo)
        pull = gh_repo.get_pull(number)
        head = pull.head.sha
        commit = gh_repo.get_commit(head)
        runs = list(commit.get_check_runs())
        statuses = list(commit.get_combined_status().statuses)
        results = [r.conclusion or "pending" for r in runs] + [s.state for s in statuses]
        if not results:
            ci = "none"
        elif any(r in ("failure", "error", "timed_out", "cancelled", "action_required") for r in results):
            ci = "failure"
        elif all(r in ("success", "neutral", "skipped") for r in results):
            ci = "success"
        else:
            ci = "pending"
        details = [
            f"{r.name}: {r.conclusion} — {(r.output.summary or '')[:300]}"
            for r in runs
            if r.conclusion not in (None, "success", "neutral", "skipped")
        ]
        details += [
            f"{s.context}: {s.state} — {s.description or ''}" for s in statuses if s.state in ("failure", "error")
        ]
        reviews: dict[str, str] = {}
        notes: list[str] = []
        for review in pull.get_reviews():
            if PAID_MARKER in (review.body or "") or is_paid(review.user.login):
                continue
            if review.state in ("APPROVED", "CHANGES_REQUESTED"):
                reviews[review.user.login] = review.state
                if review.state == "CHANGES_REQUESTED" and review.body:
                    notes.append(f"{review.user.login}: {review.body[:1000]}")
        issue = gh_repo.get_issue(number)
        feedback = [
            Feedback(f"reaction:{r.id}", r.user.login, "reaction", 1 if r.content == "+1" else -1, None)
            for r in issue.get_reactions()
            if r.content in ("+1", "-1") and trusted(r.user.login)
        ]
        for comment in issue.get_comments():
            text = (comment.body or "").strip().lower()
            if text in COMMANDS and trusted(comment.user.login):
                vote = COMMANDS[text]
                feedback.append(
                    Feedback(
                        f"comment:{comment.id}", comment.user.login, "comment", vote or None, None if vote else "retry"
                    )
                )
    return PullObservation(
        number, pull.state, bool(pull.merged), bool(pull.draft), head, ci, details, reviews, notes, feedback
    )


def pr_events(observation: PullObservation) -> dict[str, Any]:
    data = asdict(observation)
    data.pop("feedback")
    return data
