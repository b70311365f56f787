"""Every kind of fact the ledger holds, and the fields of its payload: the one list of them.

Code names a kind as `Kind.RUN_FINISHED`, never as a bare string; the ledger refuses a kind that is not here.
A kind that was renamed keeps its old name in `FORMER_NAMES`: events already written under it are read back
under the new one, so history is never lost to a rename (the ledger itself is never rewritten).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Kind(StrEnum):
    # an issue and its trigger
    ISSUE_LABELED = "issue.labeled"
    ISSUE_LABEL_IGNORED = "issue.label_ignored"
    RUN_REQUESTED = "run.requested"  # started by hand: `paid run` or a launch from the Dagster UI
    ISSUE_SNAPSHOT = "issue.snapshot"
    ISSUE_COMMENTED = "issue.commented"
    LABEL_ADDED = "label.added"
    LABEL_REMOVED = "label.removed"
    EFFECT_INTENDED = "effect.intended"
    TRIAGE_DECIDED = "triage.decided"
    # an agent run
    RUN_STARTED = "run.started"
    RUN_FINISHED = "run.finished"
    RUN_FAILED = "run.failed"
    RETRY_SCHEDULED = "retry.scheduled"
    RUN_GAVE_UP = "run.gave_up"
    DECISION_MADE = "decision.made"
    SETUP_PREPARED = "setup.prepared"
    SETUP_FAILED = "setup.failed"
    LLM_CALL = "llm.call"
    LLM_ERROR = "llm.error"
    CHECKS_RAN = "checks.ran"
    CHECKS_BASELINE = "checks.baseline"
    CHANGES_REFUSED = "changes.refused"
    # the pull request
    BRANCH_PUSHED = "branch.pushed"
    PR_OPENED = "pr.opened"
    PR_UPDATED = "pr.updated"
    PR_OBSERVED = "pr.observed"
    FEEDBACK_RECEIVED = "feedback.received"
    FOLLOW_UP_REQUESTED = "follow_up.requested"
    FOLLOW_UP_EXHAUSTED = "follow_up.exhausted"
    REVIEW_POSTED = "review.posted"
    REVIEW_SKIPPED = "review.skipped"
    REVIEW_ESCALATED = "review.escalated"
    REVIEW_FINISHED = "review.finished"
    # outcomes
    QUALITY_SCORED = "quality.scored"
    BUDGET_WARNING = "budget.warning"
    BUDGET_EXCEEDED = "budget.exceeded"
    GATE_TRIPPED = "gate.tripped"
    GATE_RESUMED = "gate.resumed"
    # the prompt registry (stream `prompts`)
    PROMPT_ADDED = "prompt.added"
    PROMPT_PROMOTED = "prompt.promoted"
    PROMPT_RETIRED = "prompt.retired"
    # experiments (stream `experiment:<name>`, but `experiment.assigned` on the issue's stream)
    EXPERIMENT_STARTED = "experiment.started"
    EXPERIMENT_STOPPED = "experiment.stopped"
    EXPERIMENT_ASSIGNED = "experiment.assigned"
    EXPERIMENT_CONCLUDED = "experiment.concluded"
    EXPERIMENT_PROMOTED = "experiment.promoted"


# The fields each payload carries (a run.finished also carries every field of AgentRunResult).
PAYLOAD: dict[Kind, tuple[str, ...]] = {
    Kind.ISSUE_LABELED: ("repo", "number", "label", "labeler", "permission", "label_event_id", "labeled_at", "cause"),
    Kind.ISSUE_LABEL_IGNORED: ("repo", "number", "labeler", "label_event_id", "reason"),
    Kind.ISSUE_SNAPSHOT: ("title", "labels", "author", "comments", "updated_at", "dagster_run_id", "labeler"),
    Kind.ISSUE_COMMENTED: ("purpose", "ref", "comment_url", "written", "run_id", "pr_number", "outcome", "attempt"),
    Kind.LABEL_ADDED: ("label", "purpose", "ref", "written"),
    Kind.LABEL_REMOVED: ("label", "ref", "written"),
    Kind.EFFECT_INTENDED: ("intent", "what"),
    Kind.TRIAGE_DECIDED: (
        "clear",
        "reason",
        "question",
        "assumption",
        "parsed",
        "prompt_template_hash",
        "prompt_bundle",
        "attempt",
    ),
    Kind.RUN_STARTED: (
        "run_id",
        "repo",
        "number",
        "branch",
        "base",
        "engine",
        "model",
        "cause",
        "dagster_run_id",
        "worker_pid",
        "worker_host",
        "worker_started",
        "paid_attempt",
        "prompt_bundle",
        "experiments",
        "experiment",
        "experiment_model",
    ),
    Kind.RUN_REQUESTED: ("repo", "number", "cause", "by", "via", "dagster_run_id"),
    Kind.RUN_FINISHED: (
        "run_id",
        "outcome",
        "duration_s",
        "error",
        "llm_calls",
        "tokens_in",
        "tokens_out",
        "prompt_bundle",
        "canceled_by",
        "stage",
        "dagster_run_id",
    ),
    Kind.RUN_FAILED: ("stage", "transient", "error_type", "error", "dagster_run_id", "attempt", "run_key"),
    Kind.RETRY_SCHEDULED: ("attempt", "of", "reason", "stage", "backoff_s", "dagster_run_id", "run_key", "resume_from"),
    Kind.RUN_GAVE_UP: ("attempts", "stage", "reason", "transient", "dagster_run_id", "error"),
    Kind.SETUP_PREPARED: ("run_id", "status", "source", "key", "duration_s", "steps", "reached", "refused"),
    Kind.SETUP_FAILED: ("run_id", "source", "key", "failed_step", "exit_code", "tail", "refused", "required"),
    Kind.DECISION_MADE: (
        "run_id",
        "decision",
        "choice",
        "candidates",
        "rationale",
        "context",
        "engine",
        "model",
        "sandbox",
    ),
    Kind.LLM_CALL: ("model", "purpose", "run_id", "via", "tokens_in", "tokens_out", "tokens_cached", "cost_usd"),
    Kind.LLM_ERROR: ("model", "purpose", "run_id", "error", "error_type", "latency_ms"),
    Kind.CHECKS_RAN: ("run_id", "round", "summary", "checks"),
    Kind.CHECKS_BASELINE: ("run_id", "base", "base_commit", "key", "cached", "status", "problem", "checks"),
    Kind.CHANGES_REFUSED: ("run_id", "reason", "origins", "paths"),
    Kind.BRANCH_PUSHED: ("run_id", "branch", "head_sha"),
    Kind.PR_OPENED: ("run_id", "pr_number", "url", "branch"),
    Kind.PR_UPDATED: ("run_id", "pr_number", "url", "branch"),
    Kind.PR_OBSERVED: ("pr_number", "state", "merged", "ci", "reviews", "head_sha", "fingerprint"),
    Kind.FEEDBACK_RECEIVED: ("user", "source", "vote", "command", "pr_number"),
    Kind.FOLLOW_UP_REQUESTED: ("reason", "details", "head_sha", "pr_number"),
    Kind.FOLLOW_UP_EXHAUSTED: ("reason", "limit", "escalated"),
    Kind.REVIEW_POSTED: ("pr_number", "round", "tier", "findings", "state", "prompt_version", "attempt"),
    Kind.REVIEW_SKIPPED: ("pr_number", "tier", "paths", "reason", "attempt"),
    Kind.REVIEW_ESCALATED: ("pr_number", "left"),
    Kind.REVIEW_FINISHED: ("state", "tier", "rounds", "findings", "escalated", "pr_number", "attempt"),
    Kind.QUALITY_SCORED: ("score", "components", "formula_version", "settled"),
    Kind.BUDGET_WARNING: ("project", "budget", "spent", "limit", "period"),
    Kind.BUDGET_EXCEEDED: ("project", "budget", "spent", "limit", "period", "run_id", "purpose", "reason"),
    Kind.GATE_TRIPPED: ("project", "reason"),
    Kind.GATE_RESUMED: ("project", "by"),
    Kind.PROMPT_ADDED: ("name", "version", "project", "parent", "author", "note"),
    Kind.PROMPT_PROMOTED: ("name", "version", "project", "previous", "by", "reason"),
    Kind.PROMPT_RETIRED: ("name", "version", "project", "by", "reason"),
    Kind.EXPERIMENT_STARTED: (
        "name",
        "kind",
        "target",
        "variants",
        "horizon",
        "alpha",
        "test",
        "auto_promote",
        "project",
        "by",
    ),
    Kind.EXPERIMENT_STOPPED: ("name", "by", "reason"),
    Kind.EXPERIMENT_ASSIGNED: ("experiment", "variant", "kind", "target", "value", "project", "run_id"),
    Kind.EXPERIMENT_CONCLUDED: ("experiment", "winner", "test", "p_value", "difference", "per_variant", "ledger_seq"),
    Kind.EXPERIMENT_PROMOTED: ("experiment", "target", "version", "project", "by", "changed"),
}

# Old name → current kind: events recorded before a rename are read as the current kind.
FORMER_NAMES: dict[str, Kind] = {
    "quality.checked": Kind.CHECKS_RAN,
    "followup.requested": Kind.FOLLOW_UP_REQUESTED,
    "followup.exhausted": Kind.FOLLOW_UP_EXHAUSTED,
}


def canonical(name: str) -> str:
    """The current name of a stored kind."""
    return FORMER_NAMES.get(name, name)


def stored_names(kinds: Iterable[str]) -> list[str]:
    """Every name under which events of these kinds may have been stored."""
    wanted = {str(k) for k in kinds}
    return sorted(wanted | {old for old, new in FORMER_NAMES.items() if new in wanted})


def known(kind: str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        raise ValueError(
            f"{kind!r} is not an event kind: add it to paid_dagster/ledger/kinds.py with its payload's fields"
        ) from None
