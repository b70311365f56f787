"""The decisions tables on a synthetic ledger whose answer is known, on SQLite and PostgreSQL; and the asset that
shows them, re-derived from the ledger alone."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dagster import DagsterInstance, materialize

from paid_dagster.learning.decision_outcomes import BY_CHOICE, decision_outcomes
from paid_dagster.learning.decisions import Decision, DecisionKind, record_decision
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind

A, B, C, D = (f"octo__shop__{n}" for n in (1, 2, 3, 4))
PROJECT = "project:octo/shop"


def decide(ledger: Ledger, stream: str, kind: DecisionKind, choice: str) -> None:
    record_decision(ledger, stream, Decision(kind, choice, "synthetic", (choice,)))


def score(ledger: Ledger, stream: str, value: float) -> None:
    ledger.append(stream, Kind.QUALITY_SCORED, {"score": value, "components": {}, "settled": True})


def synthetic_history(ledger: Ledger) -> None:
    """A: clear, retried, scored 0.9 (after a first score of 0.1). B: needs info, scored 0.2. C: clear, remediated
    twice, scored 0.6, then a follow-up decided after its score. D: refused, never scored. A budget stop."""
    for stream in (A, B, C):
        decide(ledger, stream, DecisionKind.TRIGGER, "accepted")
    decide(ledger, D, DecisionKind.TRIGGER, "refused")
    decide(ledger, A, DecisionKind.TRIAGE, "clear")
    score(ledger, A, 0.1)  # superseded: only an issue's latest score counts
    decide(ledger, A, DecisionKind.RETRY, "retry")
    score(ledger, A, 0.9)
    decide(ledger, B, DecisionKind.TRIAGE, "needs_info")
    score(ledger, B, 0.2)
    decide(ledger, C, DecisionKind.TRIAGE, "clear")
    decide(ledger, C, DecisionKind.REMEDIATION, "remediate")
    decide(ledger, C, DecisionKind.REMEDIATION, "remediate")
    score(ledger, C, 0.6)
    decide(ledger, C, DecisionKind.FOLLOW_UP, "requested")  # after the score: it preceded nothing
    decide(ledger, PROJECT, DecisionKind.BUDGET_STOP, "stop_dispatch")


def row(table: pd.DataFrame, kind: str, choice: str) -> dict[str, object]:
    found = table[(table["decision"] == kind) & (table["choice"] == choice)]
    assert len(found) == 1, (kind, choice, table)
    return found.iloc[0].to_dict()


def test_tables_count_each_choice_and_the_scores_it_preceded(ledger: Ledger) -> None:
    synthetic_history(ledger)
    tables = decision_outcomes(ledger, good_at=0.7, bad_below=0.3)
    table = tables.by_choice
    assert list(table.columns) == BY_CHOICE and len(table) == 8
    accepted = row(table, "trigger", "accepted")
    assert accepted["decisions"] == 3 and accepted["scored_issues"] == 3
    assert accepted["mean_score"] == pytest.approx((0.9 + 0.2 + 0.6) / 3, abs=1e-4)
    assert accepted["good_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert accepted["bad_share"] == pytest.approx(1 / 3, abs=1e-4)
    clear = row(table, "triage", "clear")
    assert clear["scored_issues"] == 2 and clear["mean_score"] == pytest.approx(0.75)
    assert row(table, "triage", "needs_info")["bad_share"] == 1.0
    remediate = row(table, "remediation", "remediate")  # twice on one issue: one issue in the outcome
    assert remediate["decisions"] == 2 and remediate["streams"] == 1 and remediate["scored_issues"] == 1
    assert remediate["mean_score"] == pytest.approx(0.6) and remediate["good_share"] == 0.0
    assert row(table, "retry", "retry")["mean_score"] == pytest.approx(0.9)  # the latest score, not 0.1
    for kind, choice in (("follow_up", "requested"), ("trigger", "refused"), ("budget_stop", "stop_dispatch")):
        unscored = row(table, kind, choice)
        assert unscored["decisions"] == 1 and unscored["scored_issues"] == 0 and math.isnan(unscored["mean_score"])
    by_kind = tables.by_kind.set_index("decision")
    assert by_kind.loc["trigger", "decisions"] == 4 and by_kind.loc["trigger", "choices"] == 2
    assert by_kind.loc["trigger", "most_common_choice"] == "accepted"
    assert int(by_kind["decisions"].sum()) == len(ledger.read(kinds=[Kind.DECISION_MADE])) == 12


def test_decisions_written_before_they_had_a_choice_are_counted_not_dropped(ledger: Ledger) -> None:
    legacy = {"run_id": "r1", "decision": "engine_and_model", "engine": "mini-swe-agent", "model": "m"}
    ledger.append(A, Kind.DECISION_MADE, legacy)
    ledger.append(A, Kind.DECISION_MADE, {})  # nothing at all
    score(ledger, A, 0.8)
    table = decision_outcomes(ledger, 0.7, 0.3).by_choice
    assert row(table, "engine_and_model", "")["decisions"] == 1 and row(table, "", "")["scored_issues"] == 1


def test_an_empty_ledger_gives_empty_tables(ledger: Ledger) -> None:
    tables = decision_outcomes(ledger, 0.7, 0.3)
    assert tables.by_choice.empty and list(tables.by_choice.columns) == BY_CHOICE and tables.by_kind.empty


def test_the_decisions_asset_rederives_its_tables_from_the_ledger_only(tmp_path: Path, monkeypatch) -> None:
    """Materialized twice (a backfill is a re-materialization): the same table, stored in `paid_decisions`, and
    nothing but the ledger read (no GitHub or model is configured to be reachable)."""
    from paid_dagster.assets.decisions import decisions, quality_signals
    from paid_dagster.resources import LedgerResource, SettingsResource
    from paid_dagster.resources.tables import TableIOManager

    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    config = {
        "github": {"base_url": "http://127.0.0.1:9", "token_env": "PAID_UNSET_TOKEN"},
        "model": {"name": "openai/none", "api_base": "http://127.0.0.1:9"},
        "outcomes": {"good_at": 0.8, "min_sample": 5},
        "repositories": [{"name": "octo/shop"}],
    }
    (tmp_path / "paid.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("PAID_CONFIG", str(tmp_path / "paid.yaml"))
    monkeypatch.setenv("PAID_LEDGER_URL", url)
    synthetic_history(Ledger(url))
    resources = {"settings": SettingsResource(), "ledger": LedgerResource(), "tables": TableIOManager()}
    with DagsterInstance.ephemeral() as instance:
        for _ in range(2):
            result = materialize([decisions, quality_signals], instance=instance, resources=resources)
            assert result.success
    frame = result.output_for_node("decisions")
    stored = pd.read_sql("SELECT * FROM paid_decisions", Ledger(url).engine)
    assert len(stored) == len(frame) == 8  # replaced, not appended, on re-materialization
    assert row(stored, "triage", "clear")["good_share"] == pytest.approx(0.5)  # 0.9 ≥ 0.8 > 0.6
    metadata = result.asset_materializations_for_node("decisions")[0].metadata
    assert "remediation" in metadata["by_kind"].value and metadata["good_at"].value == 0.8
    signals = result.output_for_node("quality_signals")
    assert set(signals["note"]) == {"not enough data: 0 issues, 5 needed"}  # scores without components
