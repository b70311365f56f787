"""Runs started by hand: `paid run owner/repo#N`, or a launch of the issue's partition from the Dagster UI.
Recorded like a label, as the run's trigger (`run.requested` and a `trigger` decision), with who started it.
No Dagster here: `github_issue` passes its run's tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .keys import idempotency_key, parse_issue_key
from .learning.decisions import Decision, DecisionKind, record_decision
from .ledger import Ledger
from .ledger.kinds import Kind
from .run_tags import CAUSE, MANUAL, STARTED_BY

UI = "Dagster UI"
# Tags that say a sensor, a retry, a backfill or Dagster's own retry made the run, not a person's launch.
NOT_BY_HAND = (CAUSE, "dagster/run_key", "dagster/backfill", "dagster/retry_number")


@dataclass(frozen=True)
class ManualStart:
    by: str
    via: str  # "cli" (`paid run`) or "ui"

    def attempt(self, dagster_run_id: str) -> str:
        """What stands for the label event of a labeled run: each manual start is an attempt of its own."""
        return f"manual:{dagster_run_id}"


def manual_start(tags: Mapping[str, str]) -> ManualStart | None:
    """Who started this run by hand, or None when a sensor, a retry or a backfill did. A launch from the UI
    carries none of Paid's tags and no run key; Dagster's open-source UI does not say who pressed it."""
    if tags.get(CAUSE) == MANUAL:
        return ManualStart(tags.get(STARTED_BY) or "unknown", "cli")
    if any(tag in tags for tag in NOT_BY_HAND):
        return None
    return ManualStart(tags.get("dagster/user") or UI, "ui")


def record_manual_start(ledger: Ledger, key: str, start: ManualStart, dagster_run_id: str) -> None:
    """`run.requested` and the `trigger` decision, once per Dagster run (a re-materialization adds nothing)."""
    repo, number = parse_issue_key(key)
    ledger.append(
        key,
        Kind.RUN_REQUESTED,
        {
            "repo": repo,
            "number": number,
            "cause": MANUAL,
            "by": start.by,
            "via": start.via,
            "dagster_run_id": dagster_run_id,
        },
        idempotency_key=idempotency_key(Kind.RUN_REQUESTED, dagster_run_id),
    )
    record_decision(
        ledger,
        key,
        Decision(
            DecisionKind.TRIGGER,
            "start",
            f"started by hand by {start.by} ({'`paid run`' if start.via == 'cli' else 'a launch from the UI'})",
            ["start", "ignore"],
            {"cause": MANUAL, "by": start.by, "via": start.via, "dagster_run_id": dagster_run_id},
            dagster_run_id,
        ),
        idempotency_key=idempotency_key(Kind.DECISION_MADE, DecisionKind.TRIGGER, dagster_run_id),
    )
