"""Paid's own retry policy: a failed attempt on an issue is classified where it failed (`run.failed`, with its
stage and whether it was transient); a transient failure gets a new attempt on the same partition after a
backoff, up to `retries.max_attempts`; a permanent one, or the last attempt, ends with one comment on the issue
and the `paid-failed` label. No Dagster here: the retry sensor is the adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from .agent.outcome import RunOutcome
from .config import RetrySettings
from .keys import idempotency_key, parse_issue_key
from .learning.decisions import Decision, DecisionKind, decision_key, record_decision
from .ledger import Event, Ledger
from .ledger.kinds import Kind

FAILED_LABEL = "paid-failed"
STAGES = ("github_issue", "triage", "agent_run", "pull_request", "review")
RETRY_CHOICES = ("retry", "wait", "give_up", "superseded")
RESUMABLE = ("pull_request", "review")  # a failure here keeps the agent's work: the retry starts at pull_request

# Model providers' errors (litellm / openai names) that say "try again later".
TRANSIENT_NAMES = {
    "RateLimitError",
    "ServiceUnavailableError",
    "InternalServerError",
    "APIConnectionError",
    "APITimeoutError",
    "Timeout",
    "BadGatewayError",
}
TRANSIENT_GIT = ("returned error: 5", "timed out", "Could not resolve host", "Connection refused", "Connection reset")


@dataclass(frozen=True)
class Failure:
    stage: str
    transient: bool
    error_type: str
    error: str


def is_transient(exc: BaseException) -> bool:
    """Whether the same work may succeed later: GitHub 5xx, timeouts and rate limits, a model provider's 5xx/429,
    the network; not permissions, validation, a refused push or Paid's own bugs."""
    from .agent.workspace import SecretInChanges, WorkspaceError
    from .github.client import GitHubError

    if isinstance(exc, GitHubError):
        return exc.transient
    if isinstance(exc, SecretInChanges):
        return False
    if isinstance(exc, WorkspaceError):
        return any(sign in str(exc) for sign in TRANSIENT_GIT)
    if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError | TimeoutError):
        return True
    if type(exc).__name__ in TRANSIENT_NAMES:
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


def classify(stage: str, exc: BaseException) -> Failure:
    return Failure(stage, is_transient(exc), type(exc).__name__, str(exc)[:2000])


def record_failure(ledger: Ledger, key: str, failure: Failure, dagster_run_id: str, attempt: int, run_key: str) -> None:
    """`run.failed`, once per Dagster run: the stage, the error as it happened, transient or not."""
    ledger.append(
        key,
        Kind.RUN_FAILED,
        {
            "stage": failure.stage,
            "transient": failure.transient,
            "error_type": failure.error_type,
            "error": failure.error,
            "dagster_run_id": dagster_run_id,
            "attempt": attempt,
            "run_key": run_key,
        },
        idempotency_key=idempotency_key(Kind.RUN_FAILED, dagster_run_id),
    )


@dataclass(frozen=True)
class RetryVerdict:
    """What the policy does with a failed attempt: retry now, wait until `due`, or give up."""

    action: str  # retry | wait | give_up | superseded
    failed: Event
    attempt: int  # the attempt that failed
    due: datetime
    why: str

    @property
    def key(self) -> str:
        return self.failed.stream

    @property
    def next_run_key(self) -> str:
        origin = str(self.failed.data.get("run_key") or self.failed.data["dagster_run_id"]).split(":attempt:")[0]
        return f"{origin}:attempt:{self.attempt + 1}"

    @property
    def resume_from(self) -> str:
        return "pull_request" if self.failed.data.get("stage") in RESUMABLE else "github_issue"

    def note(self, settings: RetrySettings, now: datetime) -> str:
        repo, number = parse_issue_key(self.key)
        what = f"{self.failed.data.get('stage')}: {self.failed.data.get('error_type')}"
        if self.action == "wait":
            left = max(0, int((self.due - now).total_seconds()))
            return f"{repo}#{number}: attempt {self.attempt + 1} of {settings.max_attempts} in {left} s ({what})"
        if self.action == "retry":
            start = f"from {self.resume_from}"
            return f"{repo}#{number}: attempt {self.attempt + 1} of {settings.max_attempts} {start} ({what})"
        if self.action == "superseded":
            return f"{repo}#{number}: no retry of attempt {self.attempt}: {self.why}"
        return f"{repo}#{number}: gave up ({self.why}); commented and labeled {FAILED_LABEL}"


def record_verdict(ledger: Ledger, verdict: RetryVerdict, settings: RetrySettings) -> None:
    """The policy's verdict on a failed run as a decision: once per failed run and action, so that the ticks
    that keep waiting on the same failure count once."""
    data = verdict.failed.data
    record_decision(
        ledger,
        verdict.key,
        Decision(
            DecisionKind.RETRY,
            verdict.action,
            verdict.why,
            RETRY_CHOICES,
            {
                "stage": data.get("stage"),
                "transient": data.get("transient"),
                "error_type": data.get("error_type"),
                "attempt": verdict.attempt,
                "max_attempts": settings.max_attempts,
                "resume_from": verdict.resume_from,
            },
            str(data.get("dagster_run_id") or ""),
        ),
        decision_key(DecisionKind.RETRY, data.get("dagster_run_id"), verdict.action),
    )


def backoff(settings: RetrySettings, attempt: int) -> timedelta:
    return timedelta(seconds=settings.backoff_seconds * 2 ** max(attempt - 1, 0))


def decide(settings: RetrySettings, failed: Event, now: datetime, superseded: bool = False) -> RetryVerdict:
    """`superseded`: the issue was triggered again after this failure, so that run is its next attempt."""
    attempt = int(failed.data.get("attempt") or 1)
    if superseded:
        return RetryVerdict("superseded", failed, attempt, now, "the issue was triggered again after this failure")
    if not failed.data.get("transient"):
        return RetryVerdict("give_up", failed, attempt, now, "a permanent failure: retrying would fail the same way")
    if attempt >= settings.max_attempts:
        return RetryVerdict("give_up", failed, attempt, now, f"all {settings.max_attempts} attempts failed")
    due = failed.at + backoff(settings, attempt)
    return RetryVerdict("retry" if now >= due else "wait", failed, attempt, due, "a transient failure")


def undecided(ledger: Ledger) -> list[Event]:
    """`run.failed` events the policy has not acted on (no retry scheduled, not given up), oldest first."""
    pending = []
    for event in ledger.iter(kinds=[Kind.RUN_FAILED]):
        run_id = event.data.get("dagster_run_id")
        if ledger.has(idempotency_key(Kind.RETRY_SCHEDULED, run_id)) or ledger.has(
            idempotency_key(Kind.RUN_GAVE_UP, run_id)
        ):
            continue
        if ledger.has(decision_key(DecisionKind.RETRY, run_id, "superseded")):
            continue  # a newer trigger took over the issue
        if ledger.has(idempotency_key(Kind.RUN_FINISHED, RunOutcome.CANCELED, run_id)):
            continue  # a person stopped it: whatever failed on the way out, it is not Paid's to retry
        pending.append(event)
    return pending


def record_retry(ledger: Ledger, verdict: RetryVerdict, settings: RetrySettings) -> bool:
    """`retry.scheduled`; False when another tick scheduled it already."""
    data: dict[str, Any] = {
        "attempt": verdict.attempt + 1,
        "of": settings.max_attempts,
        "reason": f"{verdict.failed.data.get('error_type')}: {verdict.failed.data.get('error')}",
        "stage": verdict.failed.data.get("stage"),
        "backoff_s": backoff(settings, verdict.attempt).total_seconds(),
        "dagster_run_id": verdict.failed.data.get("dagster_run_id"),
        "run_key": verdict.next_run_key,
        "resume_from": verdict.resume_from,
    }
    key = idempotency_key(Kind.RETRY_SCHEDULED, verdict.failed.data.get("dagster_run_id"))
    return ledger.append(verdict.key, Kind.RETRY_SCHEDULED, data, idempotency_key=key) is not None


def give_up_text(verdict: RetryVerdict) -> str:
    data = verdict.failed.data
    stage, error = data.get("stage"), str(data.get("error") or data.get("error_type"))
    how = (
        f"It failed {verdict.attempt} time(s) for a reason that usually passes ({verdict.why})"
        if data.get("transient")
        else "It failed for a reason that another attempt would not change"
    )
    return (
        f"I could not finish this issue: the `{stage}` step failed.\n\n```\n{error[:1500]}\n```\n\n{how}. To let me"
        f" try again once it is fixed, relabel the issue (remove and add the trigger label), or comment `/paid retry`"
        f" on its pull request if it has one. The label `{FAILED_LABEL}` marks it until then."
    )


def record_gave_up(ledger: Ledger, verdict: RetryVerdict) -> None:
    data = verdict.failed.data
    ledger.append(
        verdict.key,
        Kind.RUN_GAVE_UP,
        {
            "attempts": verdict.attempt,
            "stage": data.get("stage"),
            "reason": verdict.why,
            "transient": data.get("transient"),
            "dagster_run_id": data.get("dagster_run_id"),
            "error": data.get("error"),
        },
        idempotency_key=idempotency_key(Kind.RUN_GAVE_UP, data.get("dagster_run_id")),
    )
