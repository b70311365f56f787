"""The review stage: risk tier, AI review posted on the PR, remediation of blocking findings, escalation."""

from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, MetadataValue, asset

from ..agent.review import ai_review, findings_dicts, review_body, risk_tier
from ..agent.run import new_run_id, run_agent
from ..agent.workspace import Workspace
from ..github.publish import MARKER, NEEDS_HUMAN, publish_pull_request
from ..keys import issue_key
from ..resources import GitHubResource, LedgerResource, LLMResource, SettingsResource
from .issues import NO_RETRIES, _snapshot
from .partitions import paid_issues


@asset(partitions_def=paid_issues, group_name="paid", code_version="1", kinds={"python"}, op_tags=NO_RETRIES)
def review(
    context: AssetExecutionContext,
    pull_request: dict[str, Any],
    agent_run: dict[str, Any],
    github_issue: dict[str, Any],
    settings: SettingsResource,
    github: GitHubResource,
    llm: LLMResource,
    ledger: LedgerResource,
) -> dict[str, Any]:
    """Risk tier from the changed paths; above `low`, an AI review posted on the PR (REQUEST_CHANGES when a
    finding is blocking). Blocking findings are fixed by the agent on the same branch, at most `review_rounds`
    times; then the issue is labeled `paid-needs-human` with what is left."""
    if pull_request.get("state") != "open":
        context.add_output_metadata({"state": "no pull request"})
        return {"state": "skipped"}
    config = settings.load()
    repo_settings = config.repository(github_issue["repo"])
    client, reviewer, events = github.client(), github.review_client(), ledger.ledger()
    repo, number, pr = github_issue["repo"], int(github_issue["number"]), int(pull_request["number"])
    key = issue_key(repo, number)
    overrides = Path(repo_settings.prompts_dir) if repo_settings.prompts_dir else None
    gateway = llm.gateway(events, repo)
    run = agent_run
    rounds, escalated, tier = 0, False, "low"
    findings: list[Any] = []
    for round_number in range(1, repo_settings.review_rounds + 2):
        paths, diff = client.pull_diff(repo, pr)
        tier, per_path = risk_tier(paths, list(repo_settings.risk_policy))
        if tier == "low":
            events.append(
                key,
                "review.skipped",
                {
                    "pr_number": pr,
                    "tier": tier,
                    "paths": per_path,
                    "reason": "low risk: no AI review (the tests still ran)",
                },
            )
            break
        rounds = round_number
        findings, prompt_version = ai_review(gateway, repo, pr, diff, key, run["run_id"], overrides)
        blocking = [f for f in findings if f.severity == "blocking"]
        review_key = f"review.posted:{key}:{run['run_id']}:{round_number}"
        if not events.has(review_key):
            comments = [
                {"path": f.file, "line": max(f.line, 1), "body": f.message} for f in findings if f.file in paths
            ]
            state = reviewer.post_review(
                repo,
                pr,
                "REQUEST_CHANGES" if blocking else "COMMENT",
                review_body(tier, findings, round_number),
                comments,
            )
            events.append(
                key,
                "review.posted",
                {
                    "pr_number": pr,
                    "round": round_number,
                    "tier": tier,
                    "findings": findings_dicts(findings),
                    "state": state,
                    "prompt_version": prompt_version,
                },
                idempotency_key=review_key,
            )
        if not blocking:
            break
        if round_number > repo_settings.review_rounds:
            escalated = escalate(client, events, repo, number, pr, [f.as_line() for f in blocking], run["run_id"])
            break
        run = remediate(context, config, repo_settings, github_issue, client, github, gateway, events, blocking)
    context.add_output_metadata(
        {
            "tier": tier,
            "review_rounds": rounds,
            "escalated": escalated,
            "findings": MetadataValue.md("\n".join(f"- {f.as_line()}" for f in findings) or "none"),
        }
    )
    return {
        "state": "escalated" if escalated else "reviewed",
        "tier": tier,
        "rounds": rounds,
        "findings": findings_dicts(findings),
    }


def remediate(
    context: AssetExecutionContext,
    config: Any,
    repo_settings: Any,
    github_issue: dict[str, Any],
    client: Any,
    github: GitHubResource,
    gateway: Any,
    events: Any,
    blocking: list[Any],
) -> dict[str, Any]:
    """The agent fixes the blocking findings on the same branch; the PR is updated."""
    repo = client.repo(github_issue["repo"])
    notes = "Reason: review\n" + "\n".join(f.as_line() for f in blocking)
    result = run_agent(
        config,
        repo_settings,
        _snapshot(github_issue),
        repo.clone_url,
        repo.default_branch,
        github.token(),
        gateway,
        events,
        new_run_id(),
        attempt={"dagster_run_id": context.run.run_id, "cause": "review"},
        follow_up=notes,
    )
    workspace = Workspace(Path(result.worktree), repo.clone_url, github.token(), result.branch, result.base)
    publish_pull_request(client, events, result.as_dict(), github_issue["title"], workspace.push)
    return result.as_dict()


def escalate(client: Any, events: Any, repo: str, number: int, pr: int, left: list[str], run_id: str) -> bool:
    key = f"review.escalated:{issue_key(repo, number)}:{run_id}"
    if events.has(key):
        return False
    body = (
        "I could not resolve the review's blocking findings on my own, so this needs a person. What is"
        " left:\n\n"
        + "\n".join(f"- {line}" for line in left)
        + f"\n\n(pull request #{pr})\n\n"
        + MARKER.format(kind="escalated", ref=run_id)
    )
    client.comment(repo, number, body)
    client.add_label(repo, number, NEEDS_HUMAN)
    events.append(issue_key(repo, number), "review.escalated", {"pr_number": pr, "left": left}, idempotency_key=key)
    return True
