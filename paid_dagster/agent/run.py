"""One agent run on one issue: workspace, prompt, engine in a sandbox, auto-commit, and the events of it all."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checks.feedback import feedback, pr_section
from ..checks.findings import CheckResult, summarize
from ..checks.plan import ChecksPlan
from ..config import ChecksSettings, Limits, PaidConfig, RepoSettings
from ..github.client import IssueSnapshot
from ..keys import branch_name, idempotency_key, issue_key
from ..learning.decisions import Decision, DecisionKind, record_decision
from ..learning.registry import PromptChoice, record_prompt_choice, registry_for
from ..learning.selection import Selection, SelectionRequest, select_model
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..llm import LLMGateway
from ..preparation import EnvironmentCache, Preparation, prepare_environment
from ..safe_text import clean, one_line
from ..sandbox import Sandbox, open_sandbox
from .cli_engines import CLI_ENGINES
from .guardrails import Budget
from .outcome import EngineResult, RunOutcome
from .progress import Progress, silent
from .prompts import RenderedPrompt, render_follow_up, render_task
from .workspace import Workspace

if TYPE_CHECKING:
    from .engine import Engine  # mini-swe-agent and litellm: imported where the built-in engine is chosen


@dataclass(frozen=True)
class AgentRunResult:
    run_id: str
    repo: str
    number: int
    branch: str
    base: str
    outcome: RunOutcome
    engine: str
    sandbox: str
    model: str
    turns: int
    llm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    duration_s: float
    head_sha: str
    commits_ahead: int
    files_changed: int
    insertions: int
    deletions: int
    diff_stat: str
    prompt_template_hash: str
    prompt_hash: str
    summary: str
    worktree: str
    stopped_because: str | None = None
    wound_down: bool = False
    check_rounds: int = 0
    checks_summary: dict[str, Any] = field(default_factory=dict)
    checks_report: str = ""
    refused_paths: list[str] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)  # how the environment was prepared (Preparation.as_dict)
    prompt_bundle: dict[str, str] = field(default_factory=dict)  # prompt name → registry version, every one sent

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def commit_message(issue: IssueSnapshot, run_id: str, outcome: str) -> str:
    title = one_line(issue.title, 120, fallback=f"Issue #{issue.number}")
    return f"{title} (#{issue.number})\n\nMade by Paid, run {run_id} ({outcome})."


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def llm_totals(ledger: Ledger, stream: str, run_id: str) -> dict[str, float]:
    calls = [e.data for e in ledger.read(stream=stream, kinds=[Kind.LLM_CALL]) if e.data.get("run_id") == run_id]
    return {
        "llm_calls": len(calls),
        "tokens_in": sum(int(c.get("tokens_in", 0)) for c in calls),
        "tokens_out": sum(int(c.get("tokens_out", 0)) for c in calls),
        "cost_usd": round(sum(float(c.get("cost_usd", 0.0)) for c in calls), 8),
    }


def choose_engine(
    settings: RepoSettings,
    worktree: Path,
    config: PaidConfig,
    gateway: LLMGateway,
    ledger: Ledger,
    stream: str,
    run_id: str,
    system_template: str = "",
    progress: Progress = silent,
) -> Engine:
    """The engine a repository asked for in paid.yaml: the built-in one, or a CLI adapter."""
    name = settings.engine
    if name == "mini-swe-agent":
        from .engine import MiniSweAgentEngine  # mini-swe-agent and litellm: only a process that runs an agent

        return MiniSweAgentEngine(gateway, stream, run_id, system_template, progress)
    if name in CLI_ENGINES:
        model = gateway.settings.name.split("/", 1)[-1] if gateway.settings.name else None
        return CLI_ENGINES[name](worktree, model, ledger, stream, run_id, settings.sandbox, settings.sandbox_image)
    raise ValueError(f"unknown engine {name!r}: use mini-swe-agent, {', '.join(CLI_ENGINES)}")


def work_in_rounds(
    engine: Engine,
    task: str,
    sandbox: Sandbox,
    limits: Limits,
    settings: ChecksSettings,
    worktree: Path,
    ledger: Ledger,
    stream: str,
    run_id: str,
    plan: ChecksPlan | None = None,
    progress: Progress = silent,
) -> tuple[EngineResult, list[list[CheckResult]]]:
    """The project's checks run on the base commit first (the baseline), then the agent works and they run again;
    what the change made worse is fed back, at most `max_rounds` rounds in all."""
    plan = plan if plan is not None else ChecksPlan()
    budget = Budget(started=time.time())
    rounds: list[list[CheckResult]] = []
    total_turns, commands = 0, []
    prompt = task
    if settings.enabled:
        plan.prepare(sandbox, worktree, settings.timeout_seconds)
        ledger.append(stream, Kind.CHECKS_BASELINE, plan.baseline_event(run_id))
        progress(f"baseline on {plan.base_branch}: {plan.baseline_event(run_id)['status']}")
    for number in range(1, max(settings.max_rounds, 1) + 1):
        result = engine.run(prompt, sandbox, limits, budget)
        total_turns += result.turns
        commands += result.commands
        if result.outcome != RunOutcome.COMPLETED or not settings.enabled:
            break
        checks = plan.run_round(sandbox, worktree, settings.timeout_seconds)
        rounds.append(checks)
        summary = {**summarize(checks), "base": plan.base_branch, "baseline": plan.baseline_event(run_id)["status"]}
        ledger.append(
            stream,
            Kind.CHECKS_RAN,
            {"run_id": run_id, "round": number, "summary": summary, "checks": [c.as_dict() for c in checks]},
        )
        progress(
            f"checks round {number}: {summary['status']} ({summary.get('checks_passed', '?')}"
            f"/{summary.get('checks_total', '?')} checks passed)"
        )
        if summary["status"] != "failed" or number == settings.max_rounds:
            break
        prompt = f"{task}\n\n{feedback(checks, number + 1, settings.max_rounds, plan.base_branch)}"
    result.turns, result.cost_usd, result.commands = total_turns, budget.cost, commands
    return result, rounds


@dataclass(frozen=True)
class AgentRunRequest:
    """Everything one agent run needs: the issue, where its repository is, the model and the ledger."""

    config: PaidConfig
    settings: RepoSettings
    issue: IssueSnapshot
    clone_url: str
    default_branch: str
    token: str
    gateway: LLMGateway
    ledger: Ledger
    run_id: str
    attempt: Mapping[str, Any] = field(default_factory=dict)  # recorded in `run.started`: cause, Dagster run, ...
    follow_up: str = ""  # what went wrong on the open PR (CI output, review notes), given to the agent as data
    progress: Progress = silent  # each turn, the setup and each checks round as it happens (the Dagster run log)
    follow_up_prompt: str = "follow_up"  # the template the follow-up is given in ("remediation" for the review's)
    prompt_choice: Mapping[str, str] = field(default_factory=dict)  # prompt name → version pinned for this run
    model_choice: str = ""  # the coding model an experiment's variant pinned for this run


def choose_prompts(request: AgentRunRequest) -> dict[str, PromptChoice]:
    """The prompts this run sends, each the version pinned for it or the registry's current one: the system
    prompt (the built-in engine's), the task and, for a follow-up, the follow-up or remediation template."""
    settings, issue = request.settings, request.issue
    registry = registry_for(request.ledger, issue.repo, settings.prompts_dir)
    names = ["system"] if settings.engine == "mini-swe-agent" else []
    names += ["task", *([request.follow_up_prompt] if request.follow_up else [])]
    pinned_by = f"experiment {request.attempt['experiment']}" if request.attempt.get("experiment") else ""
    return {name: registry.choose(name, issue.repo, request.prompt_choice, pinned_by) for name in names}


def bundle_of(choices: Mapping[str, PromptChoice]) -> dict[str, str]:
    return {name: choice.version.version for name, choice in choices.items()}


def record_prompt_choices(request: AgentRunRequest, stream: str, choices: Mapping[str, PromptChoice]) -> None:
    bundle = bundle_of(choices)
    for name, choice in choices.items():
        key = idempotency_key(Kind.DECISION_MADE, request.run_id, str(DecisionKind.PROMPT), name)
        record_prompt_choice(request.ledger, stream, name, choice, request.run_id, bundle, key)


def record_start(
    request: AgentRunRequest, stream: str, branch: str, base: str, model: str, bundle: dict[str, str]
) -> None:
    issue, settings = request.issue, request.settings
    request.ledger.append(
        stream,
        Kind.RUN_STARTED,
        {
            "run_id": request.run_id,
            "repo": issue.repo,
            "number": issue.number,
            "branch": branch,
            "base": base,
            "engine": settings.engine,
            "model": model,
            "prompt_bundle": bundle,
            **request.attempt,
        },
        idempotency_key=idempotency_key(Kind.RUN_STARTED, request.run_id),
    )


def task_prompt(request: AgentRunRequest, choices: Mapping[str, PromptChoice]) -> RenderedPrompt:
    """The issue rendered into the task template, with the pull request's feedback when this is a follow-up."""
    issue = request.issue
    prompt = render_task(issue.title, issue.body, issue.repo, issue.number, choices["task"].version)
    if not request.follow_up:
        return prompt
    follow_up = render_follow_up(request.follow_up, choices[request.follow_up_prompt].version)
    return replace(prompt, text=f"{prompt.text}\n\n{follow_up.text}")


def select_coding_model(request: AgentRunRequest, stream: str) -> Selection:
    """The coding model by the selection policy (`learning/selection.py`), recorded as the run's model decision.
    A CLI engine calls its provider itself with the model it is configured for: that one, if allowed."""
    config, settings = request.config, request.settings
    return select_model(
        SelectionRequest(
            config=config,
            project=request.issue.repo,
            task="coding",
            ledger=request.ledger,
            stream=stream,
            run_id=request.run_id,
            idempotency_key=idempotency_key(Kind.DECISION_MADE, request.run_id, str(DecisionKind.MODEL)),
            gateway=request.gateway,
            only=(config.task_default("coding"),) if settings.engine in CLI_ENGINES else (),
            pinned=request.model_choice,
            pinned_by=f"experiment {request.attempt.get('experiment_model', '')}".strip(),
        )
    )


def record_choices(request: AgentRunRequest, stream: str, prompt: RenderedPrompt) -> None:
    """The run's engine and sandbox as decisions (the model's is the selection's), with candidates and why."""
    settings = request.settings
    context = {"prompt_template_hash": prompt.template_hash, "prompt_hash": prompt.rendered_hash}
    for decision in (
        Decision(
            DecisionKind.ENGINE, settings.engine, "configured in paid.yaml", [settings.engine], context, request.run_id
        ),
        Decision(
            DecisionKind.SANDBOX,
            settings.sandbox,
            "configured in paid.yaml",
            [settings.sandbox],
            context,
            request.run_id,
        ),
    ):
        record_decision(
            request.ledger,
            stream,
            decision,
            idempotency_key=idempotency_key(Kind.DECISION_MADE, request.run_id, str(decision.kind)),
        )


def record_error(request: AgentRunRequest, stream: str, exc: Exception, started: float, bundle: dict[str, str]) -> None:
    ledger, run_id = request.ledger, request.run_id
    ledger.append(
        stream,
        Kind.RUN_FINISHED,
        {
            "run_id": run_id,
            "outcome": RunOutcome.ERROR,
            "error": f"{type(exc).__name__}: {exc}",
            "duration_s": round(time.monotonic() - started, 3),
            "prompt_bundle": bundle,
            **llm_totals(ledger, stream, run_id),
        },
        idempotency_key=idempotency_key(Kind.RUN_FINISHED, run_id),
    )


def prepare_for_run(
    worktree: Path, config: PaidConfig, settings: RepoSettings, ledger: Ledger, stream: str, run_id: str
) -> Preparation:
    """The setup phase: the repository's environment prepared (or reused) before the agent; an event either way."""
    environments = config.environments
    cache = EnvironmentCache(Path(environments.dir), int(environments.max_gb * 1024**3), environments.max_age_days)
    preparation = prepare_environment(worktree, settings.setup, settings.sandbox, settings.sandbox_image, cache)
    if preparation.status in ("none", "disabled"):
        return preparation
    data = {"run_id": run_id, **preparation.as_dict()}
    if preparation.failed:
        ledger.append(stream, Kind.SETUP_FAILED, {**data, "required": settings.setup.required})
    else:
        ledger.append(stream, Kind.SETUP_PREPARED, data)
    return preparation


def without_the_agent(
    request: AgentRunRequest,
    workspace: Workspace,
    branch: str,
    base: str,
    preparation: Preparation,
    started: float,
    model: str,
) -> AgentRunResult:
    """The run when setup failed and was required: no model call, nothing committed, the reason said."""
    step = preparation.failed_step
    return AgentRunResult(
        run_id=request.run_id,
        repo=request.issue.repo,
        number=request.issue.number,
        branch=branch,
        base=base,
        outcome=RunOutcome.SETUP_FAILED,
        engine=request.settings.engine,
        sandbox=request.settings.sandbox,
        model=model,
        turns=0,
        llm_calls=0,
        tokens_in=0,
        tokens_out=0,
        cost_usd=0.0,
        duration_s=round(time.monotonic() - started, 3),
        head_sha=workspace.head(),
        commits_ahead=0,
        files_changed=0,
        insertions=0,
        deletions=0,
        diff_stat="",
        prompt_template_hash="",
        prompt_hash="",
        summary=preparation.explained(),
        worktree=str(workspace.path),
        stopped_because=f"`{step}` exited {preparation.exit_code} while preparing the environment",
        setup=preparation.as_dict(),
    )


def run_agent(request: AgentRunRequest) -> AgentRunResult:
    """One attempt on the issue: workspace, prompt, engine and checks in a sandbox, Paid's own commit, events."""
    config, settings, issue = request.config, request.settings, request.issue
    ledger, run_id = request.ledger, request.run_id
    stream = issue_key(issue.repo, issue.number)
    base = settings.base_branch or request.default_branch
    branch = branch_name(settings.branch_prefix, issue.number, issue.title)
    started = time.monotonic()
    # Before anything is recorded as started: when no model may do the work, the run does not start.
    selection = select_coding_model(request, stream)
    gateway = request.gateway.using(selection.settings)
    choices = choose_prompts(request)
    bundle = bundle_of(choices)
    record_start(request, stream, branch, base, selection.model, bundle)
    record_prompt_choices(request, stream, choices)
    try:
        workspace = Workspace(Path(config.work_dir) / run_id / "repo", request.clone_url, request.token, branch, base)
        workspace.prepare()
        preparation = prepare_for_run(workspace.path, config, settings, ledger, stream, run_id)
        request.progress(f"setup: {one_line(preparation.explained(), 300)}")
        if preparation.failed and settings.setup.required:
            run = without_the_agent(request, workspace, branch, base, preparation, started, selection.model)
            ledger.append(
                stream, Kind.RUN_FINISHED, run.as_dict(), idempotency_key=idempotency_key(Kind.RUN_FINISHED, run_id)
            )
            return run
        prompt = task_prompt(request, choices)
        record_choices(request, stream, prompt)
        sandbox = open_sandbox(settings.sandbox, workspace.path, settings.sandbox_image)
        limits = config.limits
        plan = ChecksPlan(
            settings.checks, base, workspace.head(), preparation.key, Path(config.work_dir) / "checks-baseline"
        )
        plan.setup_failed = preparation.failed_step if preparation.failed else ""
        try:
            result, rounds = work_in_rounds(
                choose_engine(
                    settings,
                    workspace.path,
                    config,
                    gateway,
                    ledger,
                    stream,
                    run_id,
                    choices["system"].version.template if "system" in choices else "",
                    request.progress,
                ),
                prompt.text,
                sandbox,
                limits,
                config.checks,
                workspace.path,
                ledger,
                stream,
                run_id,
                plan,
                request.progress,
            )
        finally:
            sandbox.close()
        snapshot = workspace.snapshot(commit_message(issue, run_id, result.outcome))
        stat = workspace.diff_stat()
        totals = llm_totals(ledger, stream, run_id)
        outcome = (
            result.outcome
            if workspace.commits_ahead()
            else (RunOutcome.NO_CHANGES if result.outcome == RunOutcome.COMPLETED else result.outcome)
        )
        stopped_because = result.tripped
        leaked = workspace.secrets_in_changes() if workspace.commits_ahead() else []
        if leaked:
            # Refused here, before anything leaves; the push refuses it again should anything slip past.
            outcome = RunOutcome.SECRET_IN_CHANGES
            stopped_because = f"the changes contain a secret ({', '.join(leaked)}), so nothing was pushed"
            ledger.append(stream, Kind.CHANGES_REFUSED, {"run_id": run_id, "reason": "secret", "origins": leaked})
        if snapshot.refused:
            ledger.append(
                stream, Kind.CHANGES_REFUSED, {"run_id": run_id, "reason": "paths", "paths": snapshot.refused}
            )
        run = AgentRunResult(
            run_id=run_id,
            repo=issue.repo,
            number=issue.number,
            branch=branch,
            base=base,
            outcome=outcome,
            engine=settings.engine,
            sandbox=sandbox.name,
            model=selection.model,
            turns=result.turns,
            llm_calls=int(totals["llm_calls"]),
            tokens_in=int(totals["tokens_in"]),
            tokens_out=int(totals["tokens_out"]),
            cost_usd=float(totals["cost_usd"]),
            duration_s=round(time.monotonic() - started, 3),
            head_sha=workspace.head(),
            commits_ahead=workspace.commits_ahead(),
            files_changed=stat.files,
            insertions=stat.insertions,
            deletions=stat.deletions,
            diff_stat=stat.text,
            prompt_template_hash=prompt.template_hash,
            prompt_hash=prompt.rendered_hash,
            summary=clean(result.summary, 2000),
            worktree=str(workspace.path),
            stopped_because=stopped_because,
            refused_paths=snapshot.refused,
            wound_down=result.wound_down,
            check_rounds=len(rounds),
            checks_summary={**summarize(rounds[-1]), "base": base} if rounds else {},
            checks_report=pr_section(rounds, base, plan.baseline),
            setup=preparation.as_dict(),
            prompt_bundle=bundle,
        )
    except Exception as exc:
        record_error(request, stream, exc, started, bundle)
        raise
    ledger.append(stream, Kind.RUN_FINISHED, run.as_dict(), idempotency_key=idempotency_key(Kind.RUN_FINISHED, run_id))
    return run
