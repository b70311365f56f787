"""The agent's budgets: turns, wall time, cost (checked before every model call) and repeated actions."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Limits
from .outcome import RunOutcome


@dataclass
class Budget:
    """What a run has spent so far, across every round of the checks loop."""

    started: float
    turns: int = 0
    cost: float = 0.0
    tokens: int = 0  # in and out


@dataclass(frozen=True)
class Trip:
    outcome: RunOutcome
    budget: str
    reason: str


def check_before_call(limits: Limits, turns: int, elapsed: float, cost: float) -> Trip | None:
    """Whether the next model call would break a budget; turns and cost are what was already spent."""
    if limits.max_turns and turns >= limits.max_turns:
        return Trip(RunOutcome.LIMITS_EXCEEDED, "turns", f"reached the limit of {limits.max_turns} turns")
    if limits.cost_ceiling_usd and cost >= limits.cost_ceiling_usd:
        return Trip(
            RunOutcome.LIMITS_EXCEEDED, "cost", f"spent ${cost:.4f}, at the ceiling of ${limits.cost_ceiling_usd:.2f}"
        )
    if limits.wall_time_seconds and elapsed >= limits.wall_time_seconds:
        return Trip(
            RunOutcome.TIMEOUT, "wall_time", f"ran {elapsed:.0f} s, the limit is {limits.wall_time_seconds:.0f} s"
        )
    return None


def nearly_spent(limits: Limits, turns: int, elapsed: float, cost: float) -> str | None:
    """The first budget at or past its wind-down fraction, if any."""
    f = limits.wind_down_fraction
    if limits.max_turns and turns >= f * limits.max_turns:
        return f"{turns} of {limits.max_turns} turns"
    if limits.cost_ceiling_usd and cost >= f * limits.cost_ceiling_usd:
        return f"${cost:.4f} of ${limits.cost_ceiling_usd:.2f}"
    if limits.wall_time_seconds and elapsed >= f * limits.wall_time_seconds:
        return f"{elapsed:.0f} s of {limits.wall_time_seconds:.0f} s"
    return None


def repeated_action(commands: list[str], repeats: int) -> Trip | None:
    """The same command `repeats` times in a row: the agent is going round in circles."""
    if repeats and len(commands) >= repeats and len({c.strip() for c in commands[-repeats:]}) == 1:
        return Trip(
            RunOutcome.LOOP_DETECTED, "loop", f"ran the same command {repeats} times in a row: {commands[-1][:120]!r}"
        )
    return None


WIND_DOWN = (
    "You have used most of your budget ({spent}). Finish now: leave the code in a consistent state, keep the"
    " changes you are sure of, and end with `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`."
)
