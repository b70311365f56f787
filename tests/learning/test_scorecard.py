"""model_scorecard: its figures against hand-computed ones on SQLite and PostgreSQL, the asset's table, and a
real run on the forge and the scripted model whose model was selected, then scored with no request anywhere."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from dagster import AssetKey, materialize
from paid_standins.inprocess import sensor_tick

from paid_dagster.assets.scorecard import model_scorecard
from paid_dagster.keys import issue_key
from paid_dagster.learning.scorecard import ModelRecord, model_records
from paid_dagster.ledger import Ledger
from paid_dagster.resources import LedgerResource
from paid_dagster.resources.tables import TableIOManager

from ..loop.conftest import Loop
from .conftest import MAX, MINI, PRICES


def history(ledger: Ledger) -> None:
    """Two coding runs of MINI (one completed, one that ended in an error and says no model), a triage call and a
    failed one by MAX, a call refused as not allowed, and the issues' scores (the latest counts)."""
    a, b = "octo-org__shopcart__1", "octo-org__shopcart__2"
    ledger.append(a, "run.started", {"run_id": "r1", "model": MINI})
    ledger.append(
        a, "llm.call", {"model": MINI, "purpose": "agent", "run_id": "r1", "cost_usd": 0.01, "latency_ms": 200}
    )
    ledger.append(
        a, "llm.call", {"model": MINI, "purpose": "agent", "run_id": "r1", "cost_usd": 0.03, "latency_ms": 400}
    )
    ledger.append(
        a,
        "run.finished",
        {"run_id": "r1", "model": MINI, "outcome": "completed", "cost_usd": 0.04, "duration_s": 20.0},
    )
    ledger.append(b, "run.started", {"run_id": "r2", "model": MINI})
    ledger.append(b, "run.finished", {"run_id": "r2", "outcome": "error", "cost_usd": 0.0, "duration_s": 4.0})
    ledger.append(a, "llm.call", {"model": MAX, "purpose": "triage", "cost_usd": 0.002, "latency_ms": 1500})
    ledger.append(b, "llm.error", {"model": MAX, "purpose": "triage", "error_type": "APIConnectionError"})
    ledger.append(b, "llm.error", {"model": MAX, "purpose": "triage", "error_type": "ModelNotAllowed"})
    ledger.append(a, "quality.scored", {"score": 0.2})
    ledger.append(a, "quality.scored", {"score": 0.9})
    ledger.append(b, "quality.scored", {"score": 0.5})


EXPECTED = [
    ModelRecord(MAX, "triage", 2, 1, 1, 0.5, 0.002, 1.5, 1, 0.9),  # quality: issue 1's latest (issue 2 had no call)
    ModelRecord(MINI, "coding", 2, 2, 0, 0.5, 0.02, 12.0, 2, 0.7),
]


def test_the_scorecard_figures_are_the_ledgers(ledger: Ledger) -> None:
    history(ledger)
    assert model_records(ledger) == EXPECTED
    assert model_records(ledger, ["coding"]) == EXPECTED[1:]


def test_the_model_scorecard_asset_writes_its_table(ledger_url: str) -> None:
    history(Ledger(ledger_url))
    result = materialize(
        [model_scorecard],
        resources={"ledger": LedgerResource(url=ledger_url), "tables": TableIOManager(url=ledger_url)},
    )
    assert result.success
    with Ledger(ledger_url).engine.connect() as conn:
        table = pd.read_sql(sa.text("SELECT * FROM paid_model_scorecard ORDER BY model, task"), conn)
    assert table.to_dict("records") == [r.as_dict() for r in EXPECTED]
    metadata = result.asset_materializations_for_node("model_scorecard")[0].metadata
    assert metadata["rows"].value == 2 and "| openai/paid-scripted-mini | coding | 2 |" in metadata["scorecard"].value


def use_models(loop: Loop, **repo: object) -> None:
    """The stack's paid.yaml with two more scripted models: MINI (cheapest) allowed, MAX allowed but not here."""
    data = yaml.safe_load(loop.stack.config_path.read_text())
    api_base = data["model"]["api_base"]
    data["models"] = {
        "allowed": [data["model"]["name"], MINI, MAX],
        "catalogue": [
            {
                "name": name,
                "api_base": api_base,
                "input_cost_per_token": PRICES[name][0],
                "output_cost_per_token": PRICES[name][1],
            }
            for name in (MINI, MAX)
        ],
        "tasks": {"review": {"default": MAX}},
        "cheaper_at": 0.0,  # with a budget, from the first dollar: the cheapest allowed model for every task
    }
    data["repositories"][0].update(repo)
    loop.stack.config_path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_run_uses_the_selected_model_and_a_scorecard_backfill_asks_nobody(loop: Loop) -> None:
    seed, forge, model = loop.stack.seed, loop.stack.forge, loop.stack.model
    use_models(loop, budget_daily_usd=5.0, allowed_models=["openai/paid-scripted", MINI])
    forge.as_user(seed.writer).label(seed.repo, seed.issue_number, "paid-build")
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert len(tick.launched) == 1 and not tick.failed, tick
    asked = [json.loads(body)["model"] for body in model.request_bodies]
    assert asked and set(asked) == {"paid-scripted-mini"}, asked  # triage, every agent turn and the review
    ledger = Ledger(loop.ledger_url)
    key = issue_key(seed.repo, seed.issue_number)
    decisions = [e.data for e in ledger.read(stream=key, kinds=["decision.made"]) if e.data["decision"] == "model"]
    assert sorted(d["context"]["task"] for d in decisions) == ["coding", "review", "triage"]
    assert all(d["choice"] == MINI and MAX not in d["candidates"] for d in decisions)
    review = next(d for d in decisions if d["context"]["task"] == "review")
    assert review["context"]["default"] == MAX and review["context"]["rule"] == "budget"
    (started,) = ledger.read(stream=key, kinds=["run.started"])
    assert started.data["model"] == MINI
    run = loop.instance.get_latest_materialization_event(AssetKey("agent_run")).asset_materialization.metadata  # type: ignore[union-attr]
    assert run["model"].value == MINI and run["outcome"].value == "completed"

    mark, calls_before = forge.request_mark(), len(model.calls)
    job = loop.defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=loop.instance, asset_selection=[AssetKey("model_scorecard")])
    assert result.success
    assert forge.requests(mark) == [] and len(model.calls) == calls_before  # no GitHub, no model
    rows = {(r.model, r.task): r for r in model_records(ledger)}
    assert set(rows) == {(MINI, "coding"), (MINI, "triage"), (MINI, "review")}
    coding = rows[(MINI, "coding")]
    assert coding.n == 1 and coding.success_rate == 1.0 and coding.calls == 4 and coding.mean_cost_usd > 0
    with ledger.engine.connect() as conn:
        stored = pd.read_sql(sa.text("SELECT model, task, n, calls FROM paid_model_scorecard"), conn)
    assert sorted(map(tuple, stored.to_numpy().tolist())) == sorted(
        (r.model, r.task, r.n, r.calls) for r in rows.values()
    )
