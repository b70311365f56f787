"""Every orchestration decision as one `decision.made` event: what was decided, among which candidates, why.

A decision is recorded where it is taken, with the context the choice depended on, so that the `decisions`
asset can later tell which choices preceded good and bad outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..keys import idempotency_key
from ..ledger import Ledger
from ..ledger.kinds import Kind


class DecisionKind(StrEnum):
    TRIGGER = "trigger"  # a label (or reply, or manual start) accepted or refused
    TRIAGE = "triage"  # clear enough to work on, or a question first
    PROMPT = "prompt"  # the prompt versions a run uses
    EXPERIMENT_VARIANT = "experiment_variant"  # the variant an issue is assigned in an experiment
    EXPERIMENT_WINNER = "experiment_winner"  # an experiment concluded: the variant its test found better
    MODEL = "model"  # the model for a task (triage, coding, review)
    ENGINE = "engine"  # the coding engine (mini-swe-agent, a CLI agent)
    SANDBOX = "sandbox"  # bubblewrap, docker, local
    RETRY = "retry"  # a failed run tried again, waited on, or given up
    FOLLOW_UP = "follow_up"  # an open PR's feedback worked on again, or not
    REMEDIATION = "remediation"  # blocking review findings sent back to the agent
    ESCALATION = "escalation"  # handed to a person
    BUDGET_STOP = "budget_stop"  # work stopped because a budget ran out
    GATE_PAUSE = "gate_pause"  # a project's dispatch paused by its quality gate
    GATE_RESUME = "gate_resume"  # the pause lifted
    CANCEL = "cancel"  # a person stopped a run


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    choice: str
    rationale: str
    candidates: Sequence[str] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    run_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": str(self.kind),
            "choice": self.choice,
            "candidates": list(self.candidates),
            "rationale": self.rationale,
            "context": dict(self.context),
            "run_id": self.run_id,
        }


def record_decision(ledger: Ledger, stream: str, decision: Decision, idempotency_key: str | None = None) -> None:
    """Appends the decision to the issue's (or project's) stream; with a key, at most once however often retried."""
    ledger.append(stream, Kind.DECISION_MADE, decision.as_dict(), idempotency_key=idempotency_key)


def decision_key(kind: DecisionKind, *parts: object) -> str:
    """The idempotency key of a decision taken once per fact (a label event, a failed run, a review round)."""
    return idempotency_key(Kind.DECISION_MADE, str(kind), *parts)
