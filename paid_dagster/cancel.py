"""A run a person stopped (Terminate in the Dagster UI, or `paid stop`): what is recorded, and what is refused
after it. No Dagster here: the assets' adapter (`assets/failures.py`) and the retry sensor call it.

The orchestrator interrupts the run's process (Dagster raises its own `BaseException` in the step); the sandbox's
process group is killed as that unwinds (`sandbox.base.run_capped`, `Sandbox.close`), and then this records it:
`run.finished` with outcome `canceled` and who canceled, a `cancel` decision, once per Dagster run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .agent.outcome import RunOutcome
from .agent.run import llm_totals
from .keys import idempotency_key, parse_issue_key
from .learning.decisions import Decision, DecisionKind, record_decision
from .ledger import Ledger
from .ledger.kinds import Kind

UNKNOWN_CANCELER = "Dagster UI"  # Dagster's open-source UI does not say who pressed Terminate


@dataclass(frozen=True)
class CanceledRun:
    key: str  # the issue's partition key
    dagster_run_id: str
    run_id: str  # the agent run it stopped, or the Dagster run's id when no agent had started
    by: str
    stage: str  # the step that was running, or where the run was (queued, between steps)

    @property
    def repo(self) -> str:
        return parse_issue_key(self.key)[0]

    @property
    def number(self) -> int:
        return parse_issue_key(self.key)[1]


def agent_run_of(ledger: Ledger, key: str, dagster_run_id: str) -> str | None:
    """The agent run a Dagster run started last, if any."""
    for event in reversed(ledger.read(stream=key, kinds=[Kind.RUN_STARTED])):
        if event.data.get("dagster_run_id") == dagster_run_id:
            return str(event.data["run_id"])
    return None


def record_canceled(ledger: Ledger, key: str, dagster_run_id: str, by: str, stage: str) -> CanceledRun:
    """`run.finished` (canceled, by whom, in which step) and the `cancel` decision; each once per Dagster run."""
    run_id = agent_run_of(ledger, key, dagster_run_id) or dagster_run_id
    canceled = CanceledRun(key, dagster_run_id, run_id, by or UNKNOWN_CANCELER, stage)
    ledger.append(
        key,
        Kind.RUN_FINISHED,
        {
            "run_id": run_id,
            "outcome": RunOutcome.CANCELED,
            "canceled_by": canceled.by,
            "stage": stage,
            "dagster_run_id": dagster_run_id,
            **llm_totals(ledger, key, run_id),
        },
        idempotency_key=idempotency_key(Kind.RUN_FINISHED, RunOutcome.CANCELED, dagster_run_id),
    )
    record_decision(
        ledger,
        key,
        Decision(
            DecisionKind.CANCEL,
            "cancel",
            f"stopped by {canceled.by} during {stage}",
            ["cancel", "continue"],
            {"stage": stage, "dagster_run_id": dagster_run_id, "by": canceled.by},
            run_id,
        ),
        idempotency_key=idempotency_key(Kind.DECISION_MADE, DecisionKind.CANCEL, dagster_run_id),
    )
    return canceled


def is_canceled(ledger: Ledger, key: str, run_id: str) -> bool:
    """Whether this agent run (or Dagster run) was canceled: then nothing of it is pushed or retried."""
    finished = ledger.read(stream=key, kinds=[Kind.RUN_FINISHED])
    canceled = [e.data for e in finished if e.data.get("outcome") == RunOutcome.CANCELED]
    return any(run_id in (data.get("run_id"), data.get("dagster_run_id")) for data in canceled)


def canceled_text(canceled: CanceledRun) -> str:
    return (
        f"{canceled.by} stopped this run during `{canceled.stage}`. Its sandbox was ended and nothing further was"
        " pushed; Paid will not start it again by itself. Relabel the issue (or `paid run` it) to start a new"
        f" attempt. (run `{canceled.run_id}`)"
    )
