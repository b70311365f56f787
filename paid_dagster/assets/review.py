"""The review stage: risk tier, AI review posted on the PR, remediation of blocking findings, escalation."""

from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, Failure, MetadataValue, asset

from ..agent.review import ReviewFinding, ai_review, findings_dicts, review_body, risk_tier
from ..agent.run import AgentRunRequest, AgentRunResult, new_run_id, run_agent
from ..github.publish import MARKER, NEEDS_HUMAN, PublishedRun, publish_run
from ..keys import idempotency_key, issue_key
from ..ledger.kinds import Kind
from ..resources import GitHubResource, LedgerResource, LLMResource, SettingsResource
from .issues import NO_RETRIES, _snapshot
from .metadata import safe_metadata
from .partitions import paid_issues


@asset(partitions_def=paid_issues, group_name="paid", code_version="1", kinds={"python"}, op_tags=NO_RETRIES)
def review(
    context: AssetExecutionContext,
    pull_request: PublishedRun,
    agent_run: AgentRunResult,
    github_issue: dict[str, Any],
    settings: SettingsResource,
    github: GitHubResource,
    llm: LLMResource,
    ledger: LedgerResource,
) -> dict[str, Any]:
    """Risk tier from the changed paths; above `low`, an AI review posted on the PR (REQUEST_CHANGES when a
    finding is blocking). Blocking findings are fixed by the agent on the same branch, at most `review_rounds`
    times; then the issue is labeled `paid-needs-human` with what is left."""
    if pull_request.pull is None:
        context.add_output_metadata(safe_metadata({"state": "no pull request"}))
        return {"state": "skipped"}
    repo, number, pr = github_issue["repo"], int(github_issue["number"]), pull_request.pull.number
    key, attempt = issue_key(repo, number), agent_run.run_id
    events = ledger.ledger()
    finished = events.by_key(idempotency_key(Kind.REVIEW_FINISHED, key, attempt))
    if finished is not None:
        return rederived_review(context, finished)
    started = events.by_key(idempotency_key(Kind.REVIEW_POSTED, key, attempt, 1)) or next(
        (e for e in events.read(stream=key, kinds=[Kind.REVIEW_SKIPPED]) if e.data.get("attempt") == attempt), None
    )
    if started is not None:
        raise Failure(
            f"The review of agent run {attempt} on {repo}#{pr} was started (ledger event {started.seq}) but its end"
            " is not recorded (it was interrupted, or it predates `review.finished` events), so it cannot be"
            " re-derived from the ledger; reviewing it again would call the model and could write to GitHub again."
            " Comment `/paid retry` on the pull request, or relabel the issue, for a new attempt."
        )
    config = settings.load()
    repo_settings = config.repository(github_issue["repo"])
    client, reviewer = github.client(), github.review_client()
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
                Kind.REVIEW_SKIPPED,
                {
                    "pr_number": pr,
                    "tier": tier,
                    "paths": per_path,
                    "reason": "low risk: no AI review (the tests still ran)",
                    "attempt": attempt,
                },
            )
            break
        rounds = round_number
        findings, prompt_version = ai_review(gateway, repo, pr, diff, key, run.run_id, overrides)
        blocking = [f for f in findings if f.severity == "blocking"]
        review_key = idempotency_key(Kind.REVIEW_POSTED, key, run.run_id, round_number)
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
                Kind.REVIEW_POSTED,
                {
                    "pr_number": pr,
                    "round": round_number,
                    "tier": tier,
                    "findings": findings_dicts(findings),
                    "state": state,
                    "prompt_version": prompt_version,
                    "attempt": attempt,
                },
                idempotency_key=review_key,
            )
        if not blocking:
            break
        if round_number > repo_settings.review_rounds:
            escalated = escalate(client, events, repo, number, pr, [f.as_line() for f in blocking], run.run_id)
            break
        run = remediate(context, config, repo_settings, github_issue, client, github, gateway, events, blocking)
    output = {
        "state": "escalated" if escalated else "reviewed",
        "tier": tier,
        "rounds": rounds,
        "findings": findings_dicts(findings),
    }
    events.append(
        key,
        Kind.REVIEW_FINISHED,
        {**output, "escalated": escalated, "pr_number": pr, "attempt": attempt},
        idempotency_key=idempotency_key(Kind.REVIEW_FINISHED, key, attempt),
    )
    context.add_output_metadata(safe_metadata(review_metadata(output, escalated)))
    return output


def review_metadata(output: dict[str, Any], escalated: bool) -> dict[str, Any]:
    lines = [ReviewFinding(**f).as_line() for f in output["findings"]]
    return {
        "tier": output["tier"],
        "review_rounds": output["rounds"],
        "escalated": escalated,
        "findings": MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none"),
    }


def rederived_review(context: AssetExecutionContext, finished: Any) -> dict[str, Any]:
    """The review recorded for this agent run, again: no model call, nothing written to GitHub."""
    output = {k: finished.data[k] for k in ("state", "tier", "rounds", "findings")}
    source = f"ledger event {finished.seq} (review.finished of agent run {finished.data['attempt']})"
    context.log.info(f"review re-derived from {source}: no model call, nothing written to GitHub")
    context.add_output_metadata(
        safe_metadata({**review_metadata(output, bool(finished.data.get("escalated"))), "rederived_from": source})
    )
    return output


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
) -> AgentRunResult:
    """The agent fixes the blocking findings on the same branch; the PR is updated."""
    repo = client.repo(github_issue["repo"])
    notes = "Reason: review\n" + "\n".join(f.as_line() for f in blocking)
    result = run_agent(
        AgentRunRequest(
            config=config,
            settings=repo_settings,
            issue=_snapshot(github_issue),
            clone_url=repo.clone_url,
            default_branch=repo.default_branch,
            token=github.token(),
            gateway=gateway,
            ledger=events,
            run_id=new_run_id(),
            attempt={"dagster_run_id": context.run.run_id, "cause": "review"},
            follow_up=notes,
        )
    )
    publish_run(client, events, result, github_issue["title"], github.token())
    return result


def escalate(client: Any, events: Any, repo: str, number: int, pr: int, left: list[str], run_id: str) -> bool:
    key = idempotency_key(Kind.REVIEW_ESCALATED, issue_key(repo, number), run_id)
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
    events.append(issue_key(repo, number), Kind.REVIEW_ESCALATED, {"pr_number": pr, "left": left}, idempotency_key=key)
    return True
