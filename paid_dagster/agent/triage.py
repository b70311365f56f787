"""Triage: is the issue clear enough to start? If not, one question with the default assumption."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..github.client import IssueSnapshot
from ..learning.decisions import Decision, DecisionKind, decision_key, record_decision
from ..learning.registry import PromptVersion
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..llm import LLMGateway
from ..llm.gateway import json_reply
from .prompts import fence, render, sanitize_untrusted


@dataclass(frozen=True)
class TriageDecision:
    clear: bool
    reason: str
    question: str
    assumption: str
    prompt_template_hash: str
    prompt_hash: str
    parsed: bool = True
    prompt_bundle: dict[str, str] = field(default_factory=dict)  # {"triage": the registry version sent}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_decision(text: str) -> dict[str, Any] | None:
    data = json_reply(text)
    return data if data is not None and isinstance(data.get("clear"), bool) else None


def triage_issue(
    gateway: LLMGateway,
    issue: IssueSnapshot,
    stream: str,
    prompt: PromptVersion,
    discussion: list[tuple[str, str]] | None = None,
) -> TriageDecision:
    """`discussion`: (author, body) of the issue's latest comments, so that answers to a question count;
    `prompt`: the registry's version of the triage template to send."""
    text = f"Title: {sanitize_untrusted(issue.title, 500)}\n\n{sanitize_untrusted(issue.body)}"
    for author, body in (discussion or [])[-10:]:
        text += f"\n\n--- comment by {sanitize_untrusted(author, 100)} ---\n{sanitize_untrusted(body, 4000)}"
    rendered = render(prompt, repo=issue.repo, number=issue.number, issue=fence("GitHub issue", text))
    reply = gateway.complete([{"role": "user", "content": rendered.text}], stream, purpose="triage")
    bundle = {"triage": prompt.version}
    data = parse_decision(reply.content)
    if data is None:
        # A triage answer that cannot be read must not block the work: proceed, and say so.
        return TriageDecision(
            True,
            "the model's triage answer was not readable; proceeding",
            "",
            "",
            rendered.template_hash,
            rendered.rendered_hash,
            parsed=False,
            prompt_bundle=bundle,
        )
    return TriageDecision(
        clear=bool(data["clear"]),
        reason=str(data.get("reason", ""))[:500],
        question=sanitize_untrusted(str(data.get("question", "")), 1000),
        assumption=sanitize_untrusted(str(data.get("assumption", "")), 1000),
        prompt_template_hash=rendered.template_hash,
        prompt_hash=rendered.rendered_hash,
        prompt_bundle=bundle,
    )


def record_triage(
    ledger: Ledger, stream: str, decision: TriageDecision, dagster_run_id: str, attempt: str, run_key: str | None
) -> None:
    """`triage.decided` and its `decision.made`, once per attempt (a label event or a reply) and run key."""
    ledger.append(
        stream,
        Kind.TRIAGE_DECIDED,
        {**decision.as_dict(), "dagster_run_id": dagster_run_id, "attempt": attempt, "run_key": run_key},
    )
    choice = "clear" if decision.clear else "needs_info"
    record_decision(
        ledger,
        stream,
        Decision(
            DecisionKind.TRIAGE,
            choice,
            decision.reason or ("clear enough to start" if decision.clear else decision.question),
            ("clear", "needs_info"),
            {"parsed": decision.parsed, "prompt_template_hash": decision.prompt_template_hash, "attempt": attempt},
            dagster_run_id,
        ),
        decision_key(DecisionKind.TRIAGE, stream, attempt, run_key or dagster_run_id),
    )
