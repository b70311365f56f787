"""Which model does a task (triage, coding, review): rules first, then optionally a meta-agent, one decision.

The rules, among the task's candidates allowed for the project and priced (`catalogue.py`):
1. once a budget's spent share reaches `models.cheaper_at`, the cheapest;
2. else the cheapest whose observed mean quality for the task (`scorecard.py`) clears `models.quality_floor` over
   at least `models.min_samples` scored issues;
3. else the configured default (`models.tasks.<task>.default`, else `model.name`), or the cheapest when the
   default is not allowed here.

The meta-agent (`models.meta_agent`) is a model call through the gateway (purpose `model_selection`) that sees the
candidates with their prices and records and the rules' choice. Its answer is data: a name that is not one of the
candidates, an answer that cannot be read, or a failed call leaves the choice to the rules, and the decision says
why. It is not asked once the budget is near its limit (the rules then want the cheapest, and asking costs money).

Every selection is one `decision.made` (kind `model`) under the caller's idempotency key; a selection already
recorded under that key is read back, so that a retried step neither asks the meta-agent again nor changes model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..agent.prompts import render
from ..config import ModelSettings, ModelTask, PaidConfig
from ..ledger import Ledger
from ..llm import LLMError, LLMGateway
from ..llm.gateway import json_reply
from ..outcomes.budgets import spent_share
from ..safe_text import one_line
from .catalogue import ModelCatalogue
from .decisions import Decision, DecisionKind, record_decision
from .registry import PromptRegistry
from .scorecard import ModelRecord, model_records

log = logging.getLogger(__name__)
META_PURPOSE = "model_selection"


class NoModelAllowed(LLMError):
    """No candidate for the task is both allowed for the project and priced: nothing may be called."""


@dataclass(frozen=True)
class SelectionRequest:
    config: PaidConfig
    project: str
    task: ModelTask
    ledger: Ledger
    stream: str
    run_id: str
    idempotency_key: str
    gateway: LLMGateway | None = None  # the meta-agent's door; None: the rules alone
    only: tuple[str, ...] = ()  # a narrower list the caller can use (a CLI engine: the model it is configured for)
    now: datetime | None = None
    pinned: str = ""  # a model an experiment's variant assigned: used if the project allows it, never replaced
    pinned_by: str = ""  # which experiment pinned it


@dataclass(frozen=True)
class Selection:
    model: str
    settings: ModelSettings  # how to call it
    decision: Decision


@dataclass(frozen=True)
class Evidence:
    """What the rules weigh: the usable candidates, those left out and why, the records, the budget."""

    candidates: tuple[str, ...]
    excluded: dict[str, str]
    catalogue: ModelCatalogue
    records: dict[str, ModelRecord]
    budget_share: float
    budget: str  # daily | monthly | "" (no budget)
    default: str

    def described(self) -> dict[str, dict[str, Any]]:
        """Each candidate's price and record, as the decision and the meta-agent see it."""
        described = {}
        for name in self.candidates:
            entry, record = self.catalogue.entries[name], self.records.get(name)
            described[name] = {
                "input_cost_per_token": entry.input_cost_per_token,
                "output_cost_per_token": entry.output_cost_per_token,
                "reference_call_usd": round(entry.reference_call_usd, 8),
                "context_window": entry.context_window,
                "priced_by": entry.priced_by,
                "mean_quality": record.mean_quality if record else None,
                "quality_n": record.quality_n if record else 0,
                "success_rate": record.success_rate if record else None,
                "n": record.n if record else 0,
            }
        return described


@dataclass(frozen=True)
class RulesChoice:
    model: str
    rule: str  # budget | quality | default | cheapest
    rationale: str


@dataclass(frozen=True)
class MetaAnswer:
    model: str | None  # a valid choice, or None when the rules decide
    rationale: str
    fallback_reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def usable(request: SelectionRequest) -> tuple[tuple[str, ...], dict[str, str]]:
    """The task's candidates allowed for the project that the caller can use, and the others with the reason."""
    listed = request.config.task_candidates(request.task, request.project)
    if not request.only:
        return listed, {}
    kept = tuple(name for name in listed if name in request.only)
    excluded = {name: "the caller cannot use it (a CLI engine uses its configured model)" for name in listed}
    excluded.update(
        {name: f"not allowed for {request.project} or not a {request.task} candidate" for name in request.only}
    )
    return kept, {name: why for name, why in excluded.items() if name not in kept}


def gather_evidence(request: SelectionRequest) -> Evidence:
    config = request.config
    listed, excluded = usable(request)
    catalogue = ModelCatalogue.of(config, listed)
    excluded.update(catalogue.unpriced)
    candidates = tuple(name for name in listed if name in catalogue.entries)
    if not candidates:
        reasons = "; ".join(f"{name}: {why}" for name, why in excluded.items()) or "none listed"
        raise NoModelAllowed(f"no model may do {request.task} for {request.project} ({reasons})")
    repo = config.repository(request.project)
    share, budget = spent_share(
        request.ledger, request.project, repo.budget_daily_usd, repo.budget_monthly_usd, request.now
    )
    records = {r.model: r for r in model_records(request.ledger, [request.task]) if r.model in candidates}
    return Evidence(candidates, excluded, catalogue, records, share, budget, config.task_default(request.task))


def apply_rules(evidence: Evidence, floor: float, min_samples: int, cheaper_at: float) -> RulesChoice:
    catalogue, candidates = evidence.catalogue, evidence.candidates
    cheapest = catalogue.cheapest(candidates)
    if evidence.budget and evidence.budget_share >= cheaper_at:
        return RulesChoice(
            cheapest,
            "budget",
            f"{evidence.budget_share:.0%} of the {evidence.budget} budget is spent (from {cheaper_at:.0%} the"
            f" cheapest allowed model): {cheapest}",
        )
    proven = [
        name
        for name in candidates
        if (record := evidence.records.get(name)) is not None
        and record.quality_n >= min_samples
        and record.mean_quality is not None
        and record.mean_quality >= floor
    ]
    if proven:
        choice = catalogue.cheapest(proven)
        record = evidence.records[choice]
        return RulesChoice(
            choice,
            "quality",
            f"the cheapest allowed model whose mean quality ({record.mean_quality:.2f} over {record.quality_n}"
            f" scored issues) clears the floor of {floor:.2f}: {choice}",
        )
    if evidence.default in candidates:
        return RulesChoice(
            evidence.default,
            "default",
            f"no allowed model has a mean quality ≥ {floor:.2f} over ≥ {min_samples} scored issues yet: the"
            f" configured default, {evidence.default}",
        )
    return RulesChoice(
        cheapest,
        "cheapest",
        f"the configured default {evidence.default} is not allowed here and no model has proven itself: the"
        f" cheapest allowed, {cheapest}",
    )


def candidates_table(described: dict[str, dict[str, Any]]) -> str:
    lines = ["| model | $ per input token | $ per output token | quality | n scored | success rate |"]
    lines.append("|---|---|---|---|---|---|")
    for name, d in described.items():
        quality = "none" if d["mean_quality"] is None else f"{d['mean_quality']:.2f}"
        success = "none" if d["success_rate"] is None else f"{d['success_rate']:.2f}"
        lines.append(
            f"| {name} | {d['input_cost_per_token']:.3g} | {d['output_cost_per_token']:.3g} | {quality}"
            f" | {d['quality_n']} | {success} |"
        )
    return "\n".join(lines)


def ask_meta_agent(request: SelectionRequest, evidence: Evidence, rules: RulesChoice) -> MetaAnswer:
    """The meta-agent's pick, validated; any failure is a `MetaAnswer` without a model and with the reason."""
    assert request.gateway is not None
    config = request.config
    name = config.models.meta_agent.model or config.model.name
    template = PromptRegistry(request.ledger).current("model_selection", request.project)
    prompt = render(
        template,
        task=request.task,
        project=request.project,
        candidates=candidates_table(evidence.described()),
        rules_choice=rules.model,
        rules_rationale=rules.rationale,
    )
    details: dict[str, Any] = {"model": name, "prompt_template_hash": prompt.template_hash}
    try:
        reply = request.gateway.using(config.model_settings(name)).complete(
            [{"role": "user", "content": prompt.text}], request.stream, purpose=META_PURPOSE, run_id=request.run_id
        )
    except LLMError as exc:
        return MetaAnswer(None, "", f"the meta-agent's call failed: {one_line(str(exc), 300)}", details)
    data = json_reply(reply.content)
    answer = data.get("model") if data else None
    if not isinstance(answer, str) or not answer.strip():
        seen = one_line(reply.content, 120)
        return MetaAnswer(None, "", f"the meta-agent's answer names no model (it said: {seen!r})", details)
    answer = one_line(answer, 200)
    details["answer"] = answer
    rationale = one_line(str(data.get("rationale", "")), 300) if data else ""
    if answer in evidence.candidates:
        return MetaAnswer(answer, rationale, "", details)
    if answer in evidence.excluded:
        why = f"which is left out here ({evidence.excluded[answer]})"
    elif answer in config.allowed_models():
        why = f"which is not allowed for {request.project}"
    else:
        why = "an unknown model (not among the candidates)"
    return MetaAnswer(None, rationale, f"the meta-agent named {answer!r}, {why}", details)


def decide(request: SelectionRequest) -> Decision:
    """The task's model, with everything the choice rested on, as a decision (not yet recorded)."""
    models = request.config.models
    evidence = gather_evidence(request)
    rules = apply_rules(evidence, models.quality_floor, models.min_samples, models.cheaper_at)
    context: dict[str, Any] = {
        "task": request.task,
        "project": request.project,
        "candidates": evidence.described(),
        "excluded": evidence.excluded,
        "budget": {
            "share": round(evidence.budget_share, 4),
            "budget": evidence.budget,
            "cheaper_at": models.cheaper_at,
        },
        "default": evidence.default,
        "rule": rules.rule,
        "rules_choice": rules.model,
    }
    choice, rationale = rules.model, f"rules: {rules.rationale}"
    if models.meta_agent.enabled and request.gateway is not None:
        if rules.rule == "budget":
            context["meta_agent"] = {"asked": False, "reason": "the budget is near its limit: the rules decide"}
        else:
            meta = ask_meta_agent(request, evidence, rules)
            context["meta_agent"] = {"asked": True, **meta.details, "fallback_reason": meta.fallback_reason}
            if meta.model is not None:
                choice = meta.model
                rationale = f"meta-agent: {meta.rationale or 'no reason given'} (the rules would choose {rules.model})"
            else:
                log.warning(
                    "model selection for %s on %s: %s; the rules decide",
                    request.task,
                    request.stream,
                    meta.fallback_reason,
                )
                rationale = f"{meta.fallback_reason}, so the rules decide: {rules.rationale}"
    return Decision(DecisionKind.MODEL, choice, rationale, list(evidence.candidates), context, request.run_id)


def select_model(request: SelectionRequest) -> Selection:
    """The task's model: the one recorded under the request's key if still allowed, else decided and recorded."""
    config, ledger = request.config, request.ledger
    if request.pinned:
        return pinned_selection(request)
    recorded = ledger.by_key(request.idempotency_key)
    if recorded is not None and recorded.data.get("choice") in config.task_candidates(request.task, request.project):
        data = recorded.data
        decision = Decision(
            DecisionKind.MODEL, data["choice"], data["rationale"], data["candidates"], data["context"], data["run_id"]
        )
    else:
        decision = decide(request)
        # The recorded choice is no longer allowed (paid.yaml changed): the new decision is a fact of its own.
        key = request.idempotency_key if recorded is None else f"{request.idempotency_key}:after:{recorded.seq}"
        record_decision(ledger, request.stream, decision, idempotency_key=key)
    return Selection(decision.choice, config.model_settings(decision.choice), decision)


def pinned_selection(request: SelectionRequest) -> Selection:
    """The model an experiment assigned, recorded as the task's decision; refused when the project does not allow it
    (an experiment compares models the project may use, it never widens them)."""
    config, allowed = request.config, request.config.allowed_models(request.project)
    if request.pinned not in allowed:
        raise NoModelAllowed(
            f"{request.pinned_by or 'an experiment'} assigns {request.pinned}, which {request.project} does not allow"
        )
    decision = Decision(
        DecisionKind.MODEL,
        request.pinned,
        f"pinned by {request.pinned_by or 'an experiment'}",
        allowed,
        {"task": request.task, "rule": "experiment"},
        request.run_id,
    )
    record_decision(request.ledger, request.stream, decision, idempotency_key=request.idempotency_key)
    return Selection(request.pinned, config.model_settings(request.pinned), decision)


def gateway_for(request: SelectionRequest) -> LLMGateway:
    """The request's gateway turned to the model selected for the task (the door stays the same: ledger, budget
    guard, allowed models)."""
    assert request.gateway is not None, "a gateway to turn is needed"
    return request.gateway.using(select_model(request).settings)
