"""Review of the agent's pull request: a risk tier from the changed paths, and an AI review by the model."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from ..config import RiskRule
from ..github.publish import MARKER
from ..learning.registry import PromptVersion
from ..llm import LLMGateway
from ..llm.gateway import json_reply
from .prompts import fence, render, sanitize_untrusted

TIERS = ("low", "medium", "high")
MAX_DIFF_CHARS = 30_000


@dataclass(frozen=True)
class ReviewFinding:
    file: str
    line: int
    category: str
    severity: str  # blocking | minor
    message: str

    def as_line(self) -> str:
        return f"{self.file}:{self.line} – [{self.category}, {self.severity}] {self.message}"

    @property
    def blocking(self) -> bool:
        return self.severity == "blocking"


class ReviewState(StrEnum):
    REVIEWED = "reviewed"  # reviewed, or passed without an AI review as low risk; not handed to a person
    ESCALATED = "escalated"  # blocking findings outlived the remediation rounds: the issue went to a person
    SKIPPED = "skipped"  # the run has no pull request to review


@dataclass(frozen=True)
class ReviewOutcome:
    """What the review concluded about a run's pull request: the `review` stage's value."""

    state: ReviewState
    tier: str = "low"
    rounds: int = 0  # rounds of AI review (0: no pull request, or low risk)
    findings: tuple[ReviewFinding, ...] = ()  # the last round's
    rederived_from: str | None = None  # the ledger event it was read back from, when it was not reviewed afresh

    @property
    def escalated(self) -> bool:
        return self.state == ReviewState.ESCALATED

    def as_dict(self) -> dict[str, Any]:
        """As `review.finished` records it (with the event's own fields beside)."""
        return {
            "state": self.state,
            "tier": self.tier,
            "rounds": self.rounds,
            "findings": findings_dicts(self.findings),
        }

    @classmethod
    def recorded(cls, data: Mapping[str, Any], source: str) -> ReviewOutcome:
        """The outcome a `review.finished` event holds, read back from `source`."""
        findings = tuple(ReviewFinding(**f) for f in data["findings"])
        return cls(ReviewState(data["state"]), data["tier"], int(data["rounds"]), findings, rederived_from=source)


def risk_tier(paths: list[str], policy: Sequence[RiskRule]) -> tuple[str, dict[str, str]]:
    """The PR's tier is its riskiest path's; the first rule whose glob matches decides; no match is medium."""
    per_path = {}
    for path in paths:
        tier = next((rule["tier"] for rule in policy if fnmatch.fnmatch(path, rule["glob"])), "medium")
        per_path[path] = tier if tier in TIERS else "medium"
    overall = max(per_path.values(), key=TIERS.index) if per_path else "low"
    return overall, per_path


def parse_findings(text: str) -> list[ReviewFinding] | None:
    data = json_reply(text)
    if data is None:
        return None
    findings = []
    for item in data.get("findings") or []:
        if not isinstance(item, dict) or "message" not in item:
            continue
        findings.append(
            ReviewFinding(
                str(item.get("file", "")),
                int(item.get("line") or 0),
                str(item.get("category", "correctness")),
                "blocking" if item.get("severity") == "blocking" else "minor",
                sanitize_untrusted(str(item["message"]), 500),
            )
        )
    return findings


def ai_review(
    gateway: LLMGateway, repo: str, number: int, diff: str, stream: str, run_id: str, template: PromptVersion
) -> tuple[list[ReviewFinding], str]:
    """The findings, and the registry version of the review template sent."""
    prompt = render(
        template,
        repo=repo,
        number=number,
        diff=fence("pull request diff", sanitize_untrusted(diff, MAX_DIFF_CHARS)),
    )
    reply = gateway.complete([{"role": "user", "content": prompt.text}], stream, purpose="review", run_id=run_id)
    findings = parse_findings(reply.content)
    if findings is None:
        # An unreadable review must not pass silently as "no findings".
        findings = [ReviewFinding("", 0, "correctness", "minor", "the AI review's answer could not be read")]
    return findings, prompt.template_hash


def review_body(tier: str, findings: list[ReviewFinding], round_number: int, ref: str | None = None) -> str:
    """`ref` names the review in its marker (the agent run and round), so that it is found again on GitHub."""
    blocking = [f for f in findings if f.severity == "blocking"]
    lines = [
        f"**Paid's review** (round {round_number}, risk tier **{tier}**): "
        + (f"{len(blocking)} blocking finding(s)." if blocking else "no blocking finding.")
    ]
    lines += [f"- {f.as_line()}" for f in findings]
    lines += ["", MARKER.format(kind="review", ref=ref or round_number)]
    return "\n".join(lines)


def findings_dicts(findings: Iterable[ReviewFinding]) -> list[dict[str, Any]]:
    return [asdict(f) for f in findings]
