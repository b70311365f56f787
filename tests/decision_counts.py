"""What the ledger says was decided: the tests that drive each decision point count its `decision.made` events."""

from __future__ import annotations

from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.ledger import Event, Ledger
from paid_dagster.ledger.kinds import Kind


def decisions(ledger: Ledger, kind: DecisionKind, stream: str | None = None) -> list[Event]:
    return [e for e in ledger.read(stream=stream, kinds=[Kind.DECISION_MADE]) if e.data["decision"] == kind]


def choices(ledger: Ledger, kind: DecisionKind, stream: str | None = None) -> list[str]:
    """The choices made at one decision point, in the order they were recorded."""
    return [e.data["choice"] for e in decisions(ledger, kind, stream)]


def all_decisions(ledger: Ledger) -> list[tuple[str, str, str]]:
    """(stream, decision kind, choice) of every decision, for before/after comparisons."""
    return [(e.stream, e.data["decision"], e.data["choice"]) for e in ledger.read(kinds=[Kind.DECISION_MADE])]
