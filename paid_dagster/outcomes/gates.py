"""Quality gates: a project's rolling quality, and the pause it puts on dispatch until someone resumes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import GateSettings
from ..learning.decisions import Decision, DecisionKind, decision_key, record_decision
from ..ledger import Ledger
from ..ledger.kinds import Kind


@dataclass(frozen=True)
class GateVerdict:
    tripped: bool
    reason: str
    mean_7d: float | None
    mean_30d: float | None
    failure_rate_7d: float | None


def project_scores(ledger: Ledger, project: str, since: datetime) -> list[float]:
    """The latest score of each issue of the project scored since `since`."""
    latest: dict[str, float] = {}
    for event in ledger.iter(kinds=[Kind.QUALITY_SCORED], since=since):
        if event.data.get("project") == project:
            latest[event.stream] = float(event.data["score"])
    return list(latest.values())


def rolling_verdict(ledger: Ledger, project: str, settings: GateSettings, now: datetime | None = None) -> GateVerdict:
    now = now or datetime.now(UTC)
    week = project_scores(ledger, project, now - timedelta(days=7))
    month = project_scores(ledger, project, now - timedelta(days=30))
    if len(week) < settings.min_scores:
        return GateVerdict(False, f"{len(week)} scores in 7 days: too few to judge", None, None, None)
    mean_7d, mean_30d = sum(week) / len(week), sum(month) / len(month)
    failing = sum(1 for s in week if s < settings.failure_below) / len(week)
    if mean_7d < settings.rolling_ratio * mean_30d:
        return GateVerdict(
            True,
            f"7-day mean quality {mean_7d:.2f} is below {settings.rolling_ratio:.0%} of the 30-day mean {mean_30d:.2f}",
            mean_7d,
            mean_30d,
            failing,
        )
    if failing > settings.failure_rate:
        return GateVerdict(
            True,
            f"{failing:.0%} of the last 7 days' scores are below {settings.failure_below}"
            f" (limit {settings.failure_rate:.0%})",
            mean_7d,
            mean_30d,
            failing,
        )
    return GateVerdict(False, "quality holds", mean_7d, mean_30d, failing)


def gate_state(ledger: Ledger, project: str) -> tuple[bool, str]:
    """Whether dispatch is paused for the project, and why."""
    last = None
    for event in ledger.iter(stream=f"project:{project}", kinds=[Kind.GATE_TRIPPED, Kind.GATE_RESUMED]):
        last = event
    if last is not None and last.kind == Kind.GATE_TRIPPED:
        return True, str(last.data.get("reason", "quality gate tripped"))
    return False, ""


def trip(ledger: Ledger, project: str, reason: str) -> bool:
    paused, _ = gate_state(ledger, project)
    if paused:
        return False
    event = ledger.append(f"project:{project}", Kind.GATE_TRIPPED, {"project": project, "reason": reason})
    if event is not None:
        pause = Decision(DecisionKind.GATE_PAUSE, "pause", reason, ("dispatch", "pause"), {"project": project})
        record_decision(ledger, event.stream, pause, decision_key(DecisionKind.GATE_PAUSE, project, event.seq))
    return True


def resume(ledger: Ledger, project: str, by: str) -> bool:
    paused, _ = gate_state(ledger, project)
    if not paused:
        return False
    event = ledger.append(f"project:{project}", Kind.GATE_RESUMED, {"project": project, "by": by})
    if event is not None:
        lift = Decision(
            DecisionKind.GATE_RESUME, "resume", f"resumed by {by}", ("pause", "resume"), {"project": project, "by": by}
        )
        record_decision(ledger, event.stream, lift, decision_key(DecisionKind.GATE_RESUME, project, event.seq))
    return True
