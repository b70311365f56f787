"""The review stage: risk tier, AI review posted on the PR, remediation of blocking findings, escalation."""

from typing import Any

from dagster import AssetExecutionContext, Failure, MetadataValue, asset

from ..agent.review import ReviewOutcome, ReviewState
from ..agent.review_loop import ReviewNotRederivable, ReviewRequest, review_published_run
from ..agent.run import AgentRunResult
from ..github.client import TriggeredIssue
from ..github.publish import PublishedRun
from ..resources import GitHubResource, LedgerResource, LLMResource, SettingsResource
from .failures import failures_recorded
from .metadata import safe_log, safe_metadata
from .partitions import paid_issues
from .prompts import PROMPT_REGISTRY


@asset(partitions_def=paid_issues, deps=[PROMPT_REGISTRY], group_name="paid", code_version="1", kinds={"python"})
@failures_recorded("review")
def review(
    context: AssetExecutionContext,
    pull_request: PublishedRun,
    agent_run: AgentRunResult,
    github_issue: TriggeredIssue,
    settings: SettingsResource,
    github: GitHubResource,
    llm: LLMResource,
    ledger: LedgerResource,
) -> ReviewOutcome:
    """Risk tier from the changed paths; above `low`, an AI review posted on the PR (REQUEST_CHANGES when a
    finding is blocking). Blocking findings are fixed by the agent on the same branch, at most `review_rounds`
    times; then the issue is labeled `paid-needs-human` with what is left."""
    events, issue = ledger.ledger(), github_issue.snapshot
    request = ReviewRequest(
        config=settings.load(),
        issue=issue,
        run=agent_run,
        published=pull_request,
        github=github,
        gateway=llm.gateway(events, issue.repo),
        ledger=events,
        dagster_run_id=context.run.run_id,
        resuming=context.run.tags.get("paid/cause") == "retry",
        progress=lambda line: context.log.info(safe_log(line)),  # review rounds on the run's page, as they happen
    )
    try:
        outcome = review_published_run(request)
    except ReviewNotRederivable as exc:
        raise Failure(str(exc)) from exc
    if outcome.rederived_from:
        context.log.info(f"review re-derived from {outcome.rederived_from}: no model call, nothing written to GitHub")
    context.add_output_metadata(safe_metadata(review_metadata(outcome)))
    return outcome


def review_metadata(outcome: ReviewOutcome) -> dict[str, Any]:
    if outcome.state == ReviewState.SKIPPED:
        return {"state": "no pull request"}
    lines = [finding.as_line() for finding in outcome.findings]
    metadata: dict[str, Any] = {
        "tier": outcome.tier,
        "review_rounds": outcome.rounds,
        "escalated": outcome.escalated,
        "findings": MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none"),
    }
    if outcome.rederived_from:
        metadata["rederived_from"] = outcome.rederived_from
    return metadata
