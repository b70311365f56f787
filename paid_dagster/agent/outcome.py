"""How an agent run ended: the one list of outcomes (recorded in `run.finished`, shown on GitHub and in the UI)."""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass, field
from enum import StrEnum


class RunOutcome(StrEnum):
    COMPLETED = "completed"  # the agent said it was done (the checks may still have failed)
    NO_CHANGES = "no_changes"  # done, and nothing changed
    LIMITS_EXCEEDED = "limits_exceeded"  # turns or cost ceiling
    TIMEOUT = "timeout"  # wall time
    LOOP_DETECTED = "loop_detected"  # the same command again and again
    FORMAT_ERRORS = "format_errors"  # the model's answers could not be used
    MODEL_ERROR = "model_error"  # the model provider failed
    BUDGET_EXCEEDED = "budget_exceeded"  # the project's budget is spent
    FAILED = "failed"  # the engine failed (a CLI missing, its key unset, its own error)
    ERROR = "error"  # Paid itself failed around the engine (workspace, sandbox, …)
    SECRET_IN_CHANGES = "secret_in_changes"  # the changes hold a secret: never pushed
    CRASHED = "crashed"  # the worker died mid-run (kill -9, OOM, a lost host): found by the retry sensor
    SETUP_FAILED = "setup_failed"  # the repository's environment could not be prepared: no model call was made
    CANCELED = "canceled"  # a person stopped the run (Dagster UI or `paid stop`): never retried, nothing more pushed


# A guardrail stopped the agent; its work so far is committed and explained.
TRIPS = (RunOutcome.LIMITS_EXCEEDED, RunOutcome.TIMEOUT, RunOutcome.LOOP_DETECTED, RunOutcome.BUDGET_EXCEEDED)
# Outcomes whose branch must never leave the machine.
NOT_PUBLISHED = (RunOutcome.SECRET_IN_CHANGES,)


class Interruption(ABC):  # noqa: B024 (no abstract method: it only classifies)
    """Any `BaseException` that is not an `Exception` (KeyboardInterrupt, an orchestrator's termination of the
    run): never retried, never taken for a failure."""

    @classmethod
    def __subclasshook__(cls, candidate: type) -> bool:
        return issubclass(candidate, BaseException) and not issubclass(candidate, Exception)


@dataclass
class EngineResult:
    """What an engine (mini-swe-agent or a CLI) hands back: here, apart from the engines, so that a process that
    runs none of them (scoring, the CLI) does not import them."""

    outcome: RunOutcome
    turns: int
    cost_usd: float
    summary: str
    commands: list[str] = field(default_factory=list)
    tripped: str | None = None
    wound_down: bool = False
