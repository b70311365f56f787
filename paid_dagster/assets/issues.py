"""The issue → agent run → pull request spine, one partition per issue."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, AssetObservation, MetadataValue, Output, asset

from ..agent.run import AgentRunRequest, AgentRunResult, new_run_id, run_agent
from ..agent.triage import TriageDecision, record_triage, triage_issue
from ..github.client import TriggeredIssue
from ..github.effects import unlabel
from ..github.publish import NEEDS_INFO, Published, PublishedRun, ask_question, publish_run
from ..keys import idempotency_key, parse_issue_key
from ..learning.decisions import DecisionKind
from ..learning.experiments import treat
from ..learning.registry import PromptVersion, record_prompt_choice, registry_for
from ..learning.selection import SelectionRequest, gateway_for
from ..ledger import Event, Ledger
from ..ledger.kinds import Kind
from ..resources import GitHubResource, LedgerResource, LLMResource, SettingsResource
from ..safe_text import one_line
from ..triggers import manual_start, record_manual_start
from ..worker import this_worker
from .failures import attempt_of, failures_recorded
from .metadata import safe_log, safe_metadata
from .partitions import paid_issues
from .prompts import PROMPT_REGISTRY


def _labeling(context: AssetExecutionContext, ledger_res: LedgerResource) -> dict[str, Any]:
    """Who started this attempt and with which event: the label's (from the tags or the ledger), or a person's
    start by hand (`paid run`, a launch from the UI), recorded here as the run's trigger."""
    tags = context.run.tags
    start = manual_start(tags)
    if start is not None:
        record_manual_start(ledger_res.ledger(), context.partition_key, start, context.run.run_id)
        return {"labeler": start.by, "label_event_id": start.attempt(context.run.run_id)}
    if tags.get("paid/labeler"):
        return {"labeler": tags["paid/labeler"], "label_event_id": tags.get("paid/label_event_id")}
    event = ledger_res.ledger().last(context.partition_key, Kind.ISSUE_LABELED)
    return {"labeler": event.data.get("labeler"), "label_event_id": event.data.get("label_event_id")} if event else {}


@asset(partitions_def=paid_issues, group_name="paid", code_version="1", kinds={"github"})
@failures_recorded("github_issue")
def github_issue(context: AssetExecutionContext, github: GitHubResource, ledger: LedgerResource) -> TriggeredIssue:
    """A snapshot of the GitHub issue: title, body, labels, author, who labeled it, comment count."""
    repo, number = parse_issue_key(context.partition_key)
    snapshot = github.client().snapshot(repo, number)
    labeling = _labeling(context, ledger)
    ledger.ledger().append(
        context.partition_key,
        Kind.ISSUE_SNAPSHOT,
        {
            "title": snapshot.title,
            "labels": list(snapshot.labels),
            "author": snapshot.author,
            "comments": snapshot.comments,
            "updated_at": snapshot.updated_at,
            "dagster_run_id": context.run.run_id,
            **labeling,
        },
    )
    context.add_output_metadata(
        safe_metadata(
            {
                "title": one_line(snapshot.title),
                "url": MetadataValue.url(snapshot.html_url),
                "labels": ", ".join(snapshot.labels),
                "author": snapshot.author,
                "labeler": str(labeling.get("labeler") or ""),
                "comments": snapshot.comments,
                "body_chars": len(snapshot.body),
            }
        )
    )
    return TriggeredIssue(snapshot, labeling.get("labeler"), labeling.get("label_event_id"))


def _follow_up_context(context: AssetExecutionContext, events: Any) -> str:
    """What the PR sensor saw (CI failures, requested changes) when this run is a follow-up."""
    if context.run.tags.get("paid/cause") != "follow_up":
        return ""
    requested = events.last(context.partition_key, Kind.FOLLOW_UP_REQUESTED)
    if requested is None:
        return ""
    return f"Reason: {requested.data['reason']}\n{requested.data.get('details', '')}"


@asset(
    partitions_def=paid_issues,
    deps=[PROMPT_REGISTRY],
    group_name="paid",
    code_version="1",
    kinds={"python"},
    output_required=False,
)
@failures_recorded("triage")
def triage(
    context: AssetExecutionContext,
    github_issue: TriggeredIssue,
    settings: SettingsResource,
    github: GitHubResource,
    llm: LLMResource,
    ledger: LedgerResource,
) -> Iterator[Output[dict[str, Any]]]:
    """Is the issue clear enough to start? Unclear: one question on the issue, `needs-info`, downstream skipped."""
    config = settings.load()
    events = ledger.ledger()
    issue = github_issue.snapshot
    repo_settings = config.repository(issue.repo)
    if not repo_settings.triage:
        yield Output(
            {"clear": True, "reason": "triage is off for this repository"},
            metadata=safe_metadata({"decision": "skipped"}),
        )
        return
    if context.run.tags.get("paid/cause") == "follow_up":
        yield Output(
            {"clear": True, "reason": "a follow-up on an open pull request"}, metadata={"decision": "follow_up"}
        )
        return
    attempt, run_key = str(github_issue.label_event_id or ""), context.run.tags.get("dagster/run_key")
    recorded = recorded_triage(events, context.partition_key, attempt, run_key)
    if recorded is not None:
        yield from rederived_triage(context, recorded)
        return
    client = github.client()
    discussion = [
        ((c.get("user") or {}).get("login", "ghost"), c.get("body") or "")
        for c in client.comments_after(issue.repo, issue.number, None)
        if "<!-- paid:" not in (c.get("body") or "")
    ]
    prompt = choose_triage_prompt(
        events, context.partition_key, issue.repo, repo_settings.prompts_dir, attempt or context.run.run_id
    )
    gateway = gateway_for(
        SelectionRequest(
            config=config,
            project=issue.repo,
            task="triage",
            ledger=events,
            stream=context.partition_key,
            run_id="",
            idempotency_key=idempotency_key(Kind.DECISION_MADE, context.run.run_id, DecisionKind.MODEL, "triage"),
            gateway=llm.gateway(events, issue.repo),
        )
    )
    decision = triage_issue(gateway, issue, context.partition_key, prompt, discussion)
    record_triage(events, context.partition_key, decision, context.run.run_id, attempt, run_key)
    metadata = {
        "decision": "clear" if decision.clear else "needs_info",
        "reason": decision.reason,
        "prompt_version": decision.prompt_template_hash,
        "parsed": decision.parsed,
        "model": gateway.settings.name,
    }
    if not decision.clear:
        attempt = str(github_issue.label_event_id or context.run.run_id)
        ask_question(client, events, issue.repo, issue.number, decision.question, decision.assumption, attempt)
        context.log_event(
            AssetObservation(
                asset_key=context.asset_key,
                partition=context.partition_key,
                metadata=safe_metadata({**metadata, "question": decision.question, "assumption": decision.assumption}),
            )
        )
        context.log.info(safe_log(f"needs info: {decision.question}"))
        return
    if NEEDS_INFO in issue.labels:
        unlabel(
            client, events, context.partition_key, issue.repo, issue.number, NEEDS_INFO, attempt or context.run.run_id
        )
    yield Output(decision.as_dict(), metadata=safe_metadata(metadata))


def choose_triage_prompt(events: Ledger, key: str, repo: str, prompts_dir: str | None, attempt: str) -> PromptVersion:
    """The registry's current triage template for the repository, recorded as this attempt's `prompt` decision."""
    choice = registry_for(events, repo, prompts_dir).choose("triage", repo, {})
    decision_key = idempotency_key(Kind.DECISION_MADE, key, "triage", attempt, str(DecisionKind.PROMPT))
    record_prompt_choice(events, key, "triage", choice, "", {"triage": choice.version.version}, decision_key)
    return choice.version


def recorded_triage(events: Any, key: str, attempt: str, run_key: str | None) -> Event | None:
    """The decision already recorded for this attempt (the label event, or the author's reply, that started it),
    unless this run is a new attempt of its own: a run the sensors launched carries a run key never used before,
    while a backfill, a materialization from the UI or a re-execution carries none (or the same one)."""
    for event in reversed(events.read(stream=key, kinds=[Kind.TRIAGE_DECIDED])):
        if event.data.get("attempt") == attempt and run_key in (None, event.data.get("run_key")):
            return event
    return None


def rederived_triage(context: AssetExecutionContext, recorded: Event) -> Iterator[Output[dict[str, Any]]]:
    """The recorded decision again, without the model and without writing to GitHub (a backfill is safe)."""
    decision = {k: recorded.data[k] for k in TriageDecision.__dataclass_fields__ if k in recorded.data}
    source = f"ledger event {recorded.seq} (triage.decided of run {recorded.data.get('dagster_run_id')})"
    context.log.info(f"triage re-derived from {source}: no model call, nothing written to GitHub")
    metadata = {
        "decision": "clear" if decision.get("clear") else "needs_info",
        "reason": str(decision.get("reason", "")),
        "prompt_version": str(decision.get("prompt_template_hash", "")),
        "parsed": bool(decision.get("parsed", True)),
        "rederived_from": source,
    }
    if not decision.get("clear"):
        context.log_event(
            AssetObservation(asset_key=context.asset_key, partition=context.partition_key, metadata=metadata)
        )
        return
    yield Output(decision, metadata=metadata)


def run_cause(tags: Any) -> str:
    return "manual" if manual_start(tags) else str(tags.get("paid/cause", "label"))


@asset(partitions_def=paid_issues, deps=[PROMPT_REGISTRY], group_name="paid", code_version="1", kinds={"python"})
@failures_recorded("agent_run")
def agent_run(
    context: AssetExecutionContext,
    github_issue: TriggeredIssue,
    triage: dict[str, Any],
    settings: SettingsResource,
    github: GitHubResource,
    llm: LLMResource,
    ledger: LedgerResource,
) -> AgentRunResult:
    """The coding agent's attempt on the issue, in a sandbox, committed to branch `paid/<n>-<slug>`."""
    config, issue = settings.load(), github_issue.snapshot
    repo = github.client().repo(issue.repo)
    events = ledger.ledger()
    run_id = new_run_id()
    # The running experiments' variants for this issue (sticky across its follow-ups), each recorded.
    treatment = treat(config, config.repository(issue.repo), events, context.partition_key, run_id)
    result = run_agent(
        AgentRunRequest(
            config=treatment.config,
            settings=treatment.settings,
            issue=issue,
            clone_url=repo.clone_url,
            default_branch=repo.default_branch,
            token=github.token(),
            gateway=llm.gateway(events, issue.repo, treatment.config.model),
            ledger=events,
            run_id=run_id,
            prompt_choice=treatment.prompt_choice,
            model_choice=treatment.model_choice,
            attempt={
                **treatment.recorded(),
                "dagster_run_id": context.run.run_id,
                "label_event_id": github_issue.label_event_id,
                "cause": run_cause(context.run.tags),
                "paid_attempt": attempt_of(context),
                **{f"worker_{k}": v for k, v in vars(this_worker()).items()},
            },
            follow_up=_follow_up_context(context, events),
            progress=lambda line: context.log.info(safe_log(line)),  # the run's page is the live activity
        )
    )
    context.add_output_metadata(
        safe_metadata(
            {
                "run_id": result.run_id,
                "cause": run_cause(context.run.tags),
                "reason": context.run.tags.get("paid/follow_up_reason", ""),
                "outcome": result.outcome,
                "model": result.model,
                "engine": result.engine,
                "sandbox": result.sandbox,
                "setup": str(result.setup.get("status", "none")),
                "prompt_version": result.prompt_template_hash,
                "prompt_hash": result.prompt_hash,
                "prompt_bundle": MetadataValue.json(result.prompt_bundle),
                "turns": result.turns,
                "tokens_in": result.tokens_in,
                "tokens_out": result.tokens_out,
                "cost_usd": MetadataValue.float(result.cost_usd),
                "duration_s": MetadataValue.float(result.duration_s),
                "branch": result.branch,
                "diff_stat": MetadataValue.md(f"```\n{result.diff_stat or 'no changes'}\n```"),
            }
        )
    )
    return result


@asset(partitions_def=paid_issues, group_name="paid", code_version="1", kinds={"github"})
@failures_recorded("pull_request")
def pull_request(
    context: AssetExecutionContext,
    agent_run: AgentRunResult,
    github_issue: TriggeredIssue,
    github: GitHubResource,
    ledger: LedgerResource,
) -> PublishedRun:
    """The one draft pull request for the issue ("Closes #N"), opened or updated, linked on the issue."""
    title = github_issue.snapshot.title
    published = publish_run(github.client(), ledger.ledger(), agent_run, title, github.token())
    if published.pull is None:
        context.log.warning(f"run {agent_run.run_id} has nothing to publish ({agent_run.outcome}): no pull request")
        context.add_output_metadata(safe_metadata({"state": published.state, "outcome": agent_run.outcome}))
    else:
        context.add_output_metadata(safe_metadata(pull_request_metadata(published.pull, agent_run)))
    return published


def pull_request_metadata(pull: Published, run: AgentRunResult) -> dict[str, Any]:
    return {
        "pr_url": MetadataValue.url(pull.url),
        "pr_number": pull.number,
        "created": pull.created,
        "run_id": run.run_id,
        "outcome": run.outcome,
        "model": run.model,
        "turns": run.turns,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost_usd": MetadataValue.float(run.cost_usd),
        "duration_s": MetadataValue.float(run.duration_s),
        "branch": run.branch,
    }
