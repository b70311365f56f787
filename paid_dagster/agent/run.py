"""One agent run on one issue: workspace, prompt, engine in a sandbox, auto-commit, and the events of it all."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..checks.feedback import feedback, pr_section
from ..checks.findings import CheckResult, summarize
from ..checks.plan import ChecksPlan
from ..config import ChecksSettings, Limits, PaidConfig, RepoSettings
from ..github.client import IssueSnapshot
from ..keys import branch_name, idempotency_key, issue_key
from ..learning.decisions import Decision, DecisionKind, record_decision
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..llm import LLMGateway
from ..preparation import EnvironmentCache, Preparation, prepare_environment
from ..safe_text import clean, one_line
from ..sandbox import Sandbox, open_sandbox
from .cli_engines import CLI_ENGINES
from .engine import Engine, EngineResult, MiniSweAgentEngine
from .guardrails import Budget
from .outcome import RunOutcome
from .progress import Progress, silent
from .prompts import RenderedPrompt, fence, render_task, sanitize_untrusted
from .workspace import Workspace


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
    prompts_dir: Path | None = None,
    progress: Progress = silent,
) -> Engine:
    """The engine a repository asked for in paid.yaml: the built-in one, or a CLI adapter."""
    name = settings.engine
    if name == "mini-swe-agent":
        return MiniSweAgentEngine(gateway, stream, run_id, prompts_dir, progress)
    if name in CLI_ENGINES:
        model = config.model.name.split("/", 1)[-1] if config.model.name else None
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
    prompt_choice: Mapping[str, str] = field(default_factory=dict)  # prompt name → version pinned for this run


def record_start(request: AgentRunRequest, stream: str, branch: str, base: str) -> None:
    issue, settings, config = request.issue, request.settings, request.config
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
            "model": config.model.name,
            **request.attempt,
        },
        idempotency_key=idempotency_key(Kind.RUN_STARTED, request.run_id),
    )


def task_prompt(request: AgentRunRequest, overrides: Path | None) -> RenderedPrompt:
    """The issue rendered into the task template, with the pull request's feedback when this is a follow-up."""
    issue = request.issue
    prompt = render_task(issue.title, issue.body, issue.repo, issue.number, overrides)
    if not request.follow_up:
        return prompt
    return replace(
        prompt,
        text=prompt.text + "\n\nThis is a follow-up on the open pull request, whose"
        " checks or reviewers found problems. Fix them on the same branch:\n\n"
        + fence("pull request feedback", sanitize_untrusted(request.follow_up)),
    )


CONFIGURED = "configured in paid.yaml"


def record_choices(request: AgentRunRequest, stream: str, prompt: RenderedPrompt) -> None:
    """The run's engine, model and sandbox as decisions, each with what it was chosen from and why."""
    settings, config = request.settings, request.config
    context = {"prompt_template_hash": prompt.template_hash, "prompt_hash": prompt.rendered_hash}
    for decision in (
        Decision(
            DecisionKind.MODEL,
            config.model.name,
            CONFIGURED,
            [config.model.name, *config.model.fallbacks],
            {**context, "task": "coding"},
            request.run_id,
        ),
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


def record_error(request: AgentRunRequest, stream: str, exc: Exception, started: float) -> None:
    ledger, run_id = request.ledger, request.run_id
    ledger.append(
        stream,
        Kind.RUN_FINISHED,
        {
            "run_id": run_id,
            "outcome": RunOutcome.ERROR,
            "error": f"{type(exc).__name__}: {exc}",
            "duration_s": round(time.monotonic() - started, 3),
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
    request: AgentRunRequest, workspace: Workspace, branch: str, base: str, preparation: Preparation, started: float
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
        model=request.config.model.name,
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
    record_start(request, stream, branch, base)
    try:
        workspace = Workspace(Path(config.work_dir) / run_id / "repo", request.clone_url, request.token, branch, base)
        workspace.prepare()
        preparation = prepare_for_run(workspace.path, config, settings, ledger, stream, run_id)
        request.progress(f"setup: {one_line(preparation.explained(), 300)}")
        if preparation.failed and settings.setup.required:
            run = without_the_agent(request, workspace, branch, base, preparation, started)
            ledger.append(
                stream, Kind.RUN_FINISHED, run.as_dict(), idempotency_key=idempotency_key(Kind.RUN_FINISHED, run_id)
            )
            return run
        overrides = Path(settings.prompts_dir) if settings.prompts_dir else None
        prompt = task_prompt(request, overrides)
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
                    request.gateway,
                    ledger,
                    stream,
                    run_id,
                    overrides,
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
            model=config.model.name,
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
        )
    except Exception as exc:
        record_error(request, stream, exc, started)
        raise
    ledger.append(stream, Kind.RUN_FINISHED, run.as_dict(), idempotency_key=idempotency_key(Kind.RUN_FINISHED, run_id))
    return run
