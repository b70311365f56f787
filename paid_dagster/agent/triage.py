"""Triage: is the issue clear enough to start? If not, one question with the default assumption."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..github.client import IssueSnapshot
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_decision(text: str) -> dict[str, Any] | None:
    data = json_reply(text)
    return data if data is not None and isinstance(data.get("clear"), bool) else None


def triage_issue(
    gateway: LLMGateway,
    issue: IssueSnapshot,
    stream: str,
    discussion: list[tuple[str, str]] | None = None,
    prompts_dir: Path | None = None,
) -> TriageDecision:
    """`discussion`: (author, body) of the issue's latest comments, so that answers to a question count."""
    text = f"Title: {sanitize_untrusted(issue.title, 500)}\n\n{sanitize_untrusted(issue.body)}"
    for author, body in (discussion or [])[-10:]:
        text += f"\n\n--- comment by {sanitize_untrusted(author, 100)} ---\n{sanitize_untrusted(body, 4000)}"
    prompt = render("triage", prompts_dir, repo=issue.repo, number=issue.number, issue=fence("GitHub issue", text))
    reply = gateway.complete([{"role": "user", "content": prompt.text}], stream, purpose="triage")
    data = parse_decision(reply.content)
    if data is None:
        # A triage answer that cannot be read must not block the work: proceed, and say so.
        return TriageDecision(
            True,
            "the model's triage answer was not readable; proceeding",
            "",
            "",
            prompt.template_hash,
            prompt.rendered_hash,
            parsed=False,
        )
    return TriageDecision(
        clear=bool(data["clear"]),
        reason=str(data.get("reason", ""))[:500],
        question=sanitize_untrusted(str(data.get("question", "")), 1000),
        assumption=sanitize_untrusted(str(data.get("assumption", "")), 1000),
        prompt_template_hash=prompt.template_hash,
        prompt_hash=prompt.rendered_hash,
    )
