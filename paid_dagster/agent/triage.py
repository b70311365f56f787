"""Triage: is the issue clear enough to start? If not, one question with the default assumption."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..github.client import IssueSnapshot
from ..learning.registry import PromptVersion
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
