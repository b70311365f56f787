"""The review of a published run: rounds of AI review on its pull request, the agent fixing blocking findings on
the same branch (at most `review_rounds` times), then a person; or, for a run already reviewed, the review read
back from the ledger, with no model call and nothing written to GitHub (a backfill is safe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..config import PaidConfig, RepoSettings
from ..github import effects
from ..github.client import GitHubClient, IssueSnapshot
from ..github.effects import MARKER, Record
from ..github.publish import NEEDS_HUMAN, PublishedRun, comment_once, label_once, publish_run
from ..keys import idempotency_key, issue_key
from ..learning.decisions import Decision, DecisionKind, decision_key, record_decision
from ..learning.registry import PromptVersion, record_prompt_choice, registry_for
from ..learning.selection import SelectionRequest, gateway_for
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..llm import LLMGateway
from .progress import Progress, silent
from .review import ReviewFinding, ReviewOutcome, ReviewState, ai_review, findings_dicts, review_body, risk_tier
from .run import AgentRunRequest, AgentRunResult, new_run_id, run_agent


class GitHubAccess(Protocol):
    """Paid's identities on GitHub, asked for only when the review needs GitHub: a review read back from the
    ledger needs neither a client nor the token."""

    def client(self) -> GitHubClient: ...

    def review_client(self) -> GitHubClient: ...

    def token(self) -> str: ...


class ReviewNotRederivable(Exception):
    """The review of this run was started but its end is not recorded: it cannot be read back from the ledger,
    and reviewing it again would call the model and could write to GitHub again."""


@dataclass(frozen=True)
class ReviewRequest:
    config: PaidConfig
    issue: IssueSnapshot
    run: AgentRunResult  # the agent run whose pull request is reviewed: the review's attempt
    published: PublishedRun  # what publishing that run gave
    github: GitHubAccess
    gateway: LLMGateway
    ledger: Ledger
    dagster_run_id: str  # recorded on the remediation runs
    resuming: bool = False  # a retry of a failed review: its posted rounds are found again on GitHub, not refused
    progress: Progress = silent  # each review round and the remediation's turns as they happen (the Dagster run log)

    @property
    def key(self) -> str:
        return issue_key(self.issue.repo, self.issue.number)

    @property
    def attempt(self) -> str:
        return self.run.run_id


@dataclass(frozen=True)
class FreshReview:
    """What the rounds of a fresh review work with."""

    request: ReviewRequest
    pr: int
    settings: RepoSettings
    client: GitHubClient  # Paid's own identity: the diff, remediation pushes, the escalation
    reviewer: GitHubClient  # the identity that posts reviews (github.review_token_env, else Paid's own)
    prompt: PromptVersion  # the registry's version of the review template, the same for every round
    gateway: LLMGateway  # turned to the model selected for the review


def review_published_run(request: ReviewRequest) -> ReviewOutcome:
    """The review of a run's pull request: skipped without one, read back from the ledger when this run was
    reviewed before, refused (`ReviewNotRederivable`) when it was started and not finished, else done afresh."""
    pull = request.published.pull
    if pull is None:
        return ReviewOutcome(ReviewState.SKIPPED)
    recorded = recorded_review(request.ledger, request.key, request.attempt)
    if recorded is not None:
        return recorded
    if not request.resuming:
        refuse_unfinished_review(request, pull.number)
    return review_in_rounds(start_fresh_review(request, pull.number))


def recorded_review(ledger: Ledger, key: str, attempt: str) -> ReviewOutcome | None:
    finished = ledger.by_key(idempotency_key(Kind.REVIEW_FINISHED, key, attempt))
    if finished is None:
        return None
    source = f"ledger event {finished.seq} (review.finished of agent run {finished.data['attempt']})"
    return ReviewOutcome.recorded(finished.data, source)


def refuse_unfinished_review(request: ReviewRequest, pr: int) -> None:
    ledger, key, attempt = request.ledger, request.key, request.attempt
    started = ledger.by_key(idempotency_key(Kind.REVIEW_POSTED, key, attempt, 1)) or next(
        (e for e in ledger.read(stream=key, kinds=[Kind.REVIEW_SKIPPED]) if e.data.get("attempt") == attempt), None
    )
    if started is not None:
        raise ReviewNotRederivable(
            f"The review of agent run {attempt} on {request.issue.repo}#{pr} was started (ledger event {started.seq})"
            " but its end is not recorded (it was interrupted, or it predates `review.finished` events), so it cannot"
            " be re-derived from the ledger; reviewing it again would call the model and could write to GitHub"
            " again. Comment `/paid retry` on the pull request, or relabel the issue, for a new attempt."
        )


def start_fresh_review(request: ReviewRequest, pr: int) -> FreshReview:
    settings = request.config.repository(request.issue.repo)
    repo = request.issue.repo
    gateway = gateway_for(
        SelectionRequest(
            config=request.config,
            project=request.issue.repo,
            task="review",
            ledger=request.ledger,
            stream=request.key,
            run_id=request.attempt,
            idempotency_key=idempotency_key(Kind.DECISION_MADE, request.attempt, DecisionKind.MODEL, "review"),
            gateway=request.gateway,
        )
    )
    choice = registry_for(request.ledger, repo, settings.prompts_dir).choose("review", repo, {})
    key = idempotency_key(Kind.DECISION_MADE, request.key, request.attempt, str(DecisionKind.PROMPT), "review")
    bundle = {"review": choice.version.version}
    record_prompt_choice(request.ledger, request.key, "review", choice, request.attempt, bundle, key)
    client, reviewer = request.github.client(), request.github.review_client()
    return FreshReview(request, pr, settings, client, reviewer, choice.version, gateway)


def review_in_rounds(review: FreshReview) -> ReviewOutcome:
    """Review; while findings block, the agent fixes them and the PR is reviewed again; past `review_rounds`
    fixes, a person. The outcome is recorded (`review.finished`) so that a backfill can read it back."""
    request, settings = review.request, review.settings
    run, tier, rounds, escalated = request.run, "low", 0, False
    findings: list[ReviewFinding] = []
    for round_number in range(1, settings.review_rounds + 2):
        paths, diff = review.client.pull_diff(request.issue.repo, review.pr)
        tier, per_path = risk_tier(paths, list(settings.risk_policy))
        if tier == "low":
            record_low_risk(review, tier, per_path)
            break
        rounds = round_number
        findings, prompt_version = ai_review(
            review.gateway, request.issue.repo, review.pr, diff, request.key, run.run_id, review.prompt
        )
        blocking = [f for f in findings if f.blocking]
        post_review_once(review, run.run_id, round_number, tier, findings, prompt_version, paths)
        request.progress(
            f"review round {round_number} · tier {tier} · {len(findings)} finding(s), {len(blocking)} blocking"
            + (" · the agent fixes them" if blocking and round_number <= settings.review_rounds else "")
        )
        if not blocking:
            break
        if round_number > settings.review_rounds:
            escalated = escalate(review, [f.as_line() for f in blocking], run.run_id)
            break
        record_remediation(review, run.run_id, round_number, tier, blocking)
        run = remediate(review, blocking)
    outcome = ReviewOutcome(ReviewState.ESCALATED if escalated else ReviewState.REVIEWED, tier, rounds, tuple(findings))
    record_finished(review, outcome)
    return outcome


def record_low_risk(review: FreshReview, tier: str, per_path: dict[str, str]) -> None:
    review.request.ledger.append(
        review.request.key,
        Kind.REVIEW_SKIPPED,
        {
            "pr_number": review.pr,
            "tier": tier,
            "paths": per_path,
            "reason": "low risk: no AI review (the tests still ran)",
            "attempt": review.request.attempt,
        },
    )


def post_review_once(
    review: FreshReview,
    run_id: str,
    round_number: int,
    tier: str,
    findings: list[ReviewFinding],
    prompt_version: str,
    paths: list[str],
) -> None:
    """The round's findings as a PR review (REQUEST_CHANGES when one blocks), line comments on changed files."""
    request = review.request
    review_key = idempotency_key(Kind.REVIEW_POSTED, request.key, run_id, round_number)
    if request.ledger.has(review_key):
        return
    comments = [{"path": f.file, "line": max(f.line, 1), "body": f.message} for f in findings if f.file in paths]
    ref = f"{run_id}:{round_number}"

    def record(state: str, _written: bool) -> Record:
        data = {
            "pr_number": review.pr,
            "round": round_number,
            "tier": tier,
            "findings": findings_dicts(findings),
            "state": state,
            "prompt_version": prompt_version,
            "attempt": request.attempt,
        }
        return Record(Kind.REVIEW_POSTED, data, review_key)

    effects.review(
        review.reviewer,
        request.ledger,
        request.key,
        request.issue.repo,
        review.pr,
        MARKER.format(kind="review", ref=ref),
        "REQUEST_CHANGES" if any(f.blocking for f in findings) else "COMMENT",
        review_body(tier, findings, round_number, ref),
        comments,
        record,
        review_key,
    )


def record_remediation(
    review: FreshReview, run_id: str, round_number: int, tier: str, blocking: list[ReviewFinding]
) -> None:
    """Blocking findings sent back to the agent: once per reviewed run and round, whatever is retried."""
    request = review.request
    decision = Decision(
        DecisionKind.REMEDIATION,
        "remediate",
        f"{len(blocking)} blocking finding(s) in round {round_number} of {review.settings.review_rounds}",
        ("remediate", "escalate"),
        {"pr_number": review.pr, "round": round_number, "tier": tier, "findings": [f.as_line() for f in blocking][:20]},
        run_id,
    )
    key = decision_key(DecisionKind.REMEDIATION, request.key, request.attempt, round_number)
    record_decision(request.ledger, request.key, decision, key)


def remediate(review: FreshReview, blocking: list[ReviewFinding]) -> AgentRunResult:
    """The agent fixes the blocking findings on the same branch; the PR is updated."""
    request = review.request
    repo = review.client.repo(request.issue.repo)
    notes = "Reason: review\n" + "\n".join(f.as_line() for f in blocking)
    result = run_agent(
        AgentRunRequest(
            config=request.config,
            settings=review.settings,
            issue=request.issue,
            clone_url=repo.clone_url,
            default_branch=repo.default_branch,
            token=request.github.token(),
            gateway=request.gateway,
            ledger=request.ledger,
            run_id=new_run_id(),
            attempt={"dagster_run_id": request.dagster_run_id, "cause": "review"},
            follow_up=notes,
            follow_up_prompt="remediation",
            progress=request.progress,
        )
    )
    publish_run(review.client, request.ledger, result, request.issue.title, request.github.token())
    return result


def escalate(review: FreshReview, left: list[str], run_id: str) -> bool:
    """One comment listing what is left and the `paid-needs-human` label; once per run."""
    client, ledger = review.client, review.request.ledger
    repo, number, pr = review.request.issue.repo, review.request.issue.number, review.pr
    key = idempotency_key(Kind.REVIEW_ESCALATED, issue_key(repo, number), run_id)
    if ledger.has(key):
        return False
    body = (
        "I could not resolve the review's blocking findings on my own, so this needs a person. What is"
        " left:\n\n" + "\n".join(f"- {line}" for line in left) + f"\n\n(pull request #{pr})"
    )
    why = f"{len(left)} blocking finding(s) left after {review.settings.review_rounds} remediation round(s)"
    decision = Decision(
        DecisionKind.ESCALATION,
        "escalate",
        why,
        ("remediate", "escalate"),
        {"pr_number": pr, "left": left[:20], "review_rounds": review.settings.review_rounds},
        run_id,
    )
    record_decision(ledger, issue_key(repo, number), decision, decision_key(DecisionKind.ESCALATION, key))
    comment_once(client, ledger, repo, number, "escalated", run_id, body, pr_number=pr)
    label_once(client, ledger, repo, number, NEEDS_HUMAN, "escalated", run_id)
    ledger.append(issue_key(repo, number), Kind.REVIEW_ESCALATED, {"pr_number": pr, "left": left}, idempotency_key=key)
    return True


def record_finished(review: FreshReview, outcome: ReviewOutcome) -> None:
    request = review.request
    request.ledger.append(
        request.key,
        Kind.REVIEW_FINISHED,
        {**outcome.as_dict(), "escalated": outcome.escalated, "pr_number": review.pr, "attempt": request.attempt},
        idempotency_key=idempotency_key(Kind.REVIEW_FINISHED, request.key, request.attempt),
    )
