"""The prompt registry in the loop: a system prompt edited with `paid prompts`, the next labeled issue's run
(sensor tick → Dagster run) sends and records it, and the `prompt_registry` asset shows it with its score."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, materialize
from paid_standins.inprocess import sensor_tick

from paid_dagster.assets.prompts import prompt_registry
from paid_dagster.cli import main
from paid_dagster.keys import issue_key
from paid_dagster.learning.registry import PromptRegistry
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind
from paid_dagster.sensors import paid_pr_sensor

from .conftest import Loop


def test_a_system_prompt_edit_is_sent_recorded_and_scored(loop: Loop, tmp_path: Path) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    ledger = Ledger(loop.ledger_url)
    old = PromptRegistry(ledger).current("system")
    edited = tmp_path / "system.md"
    edited.write_text(old.template + "\nKeep each commit small.\n")
    argv = ["prompts", "new", "system", "--file", str(edited), "--note", "small commits", "--promote"]
    assert main([*argv, "--ledger-url", loop.ledger_url]) == 0
    new = PromptRegistry(ledger).current("system")
    assert new.parent == old.version and new.note == "small commits"

    forge.as_user(seed.writer).label(seed.repo, seed.issue_number, "paid-build")
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert len(tick.launched) == 1 and not tick.failed, tick
    key = issue_key(seed.repo, seed.issue_number)
    started = ledger.last(key, Kind.RUN_STARTED)
    finished = ledger.last(key, Kind.RUN_FINISHED)
    assert started is not None and finished is not None
    bundle = started.data["prompt_bundle"]
    assert bundle["system"] == new.version and finished.data["prompt_bundle"] == bundle
    assert bundle["task"] == PromptRegistry(ledger).current("task").version
    triage = ledger.last(key, Kind.TRIAGE_DECIDED)
    assert triage is not None and triage.data["prompt_bundle"] == {
        "triage": PromptRegistry(ledger).current("triage").version
    }
    materialized = loop.instance.get_latest_materialization_event(AssetKey("agent_run"))
    assert materialized is not None and materialized.asset_materialization is not None
    assert materialized.asset_materialization.metadata["prompt_bundle"].value == bundle

    # Merged and green: scored; the registry's page relates the new system prompt to the run's score and cost.
    pull = forge.store.one("SELECT i.number, p.head_sha FROM pulls p JOIN issues i ON i.id = p.issue_id")
    assert pull is not None
    forge.as_user(seed.admin).check_run(seed.repo, pull["head_sha"], "tests", "success", "ok")
    forge.as_user(seed.admin).merge(seed.repo, pull["number"])
    sensor_tick(loop.instance, loop.defs, None, sensor=paid_pr_sensor)
    score = ledger.last(key, Kind.QUALITY_SCORED)
    assert score is not None
    result = materialize([prompt_registry], instance=loop.instance, resources=loop.defs.resources)
    frame = result.output_for_node("prompt_registry").set_index(["name", "version"])
    used = frame.loc[("system", new.version)]
    assert used["status"] == "current" and used["uses"] == 1 and used["parent"] == old.version
    assert used["mean_score"] == pytest.approx(score.data["score"]) and used["mean_run_cost_usd"] > 0
    assert (
        frame.loc[("system", old.version)]["uses"] == 0 and frame.loc[("system", old.version)]["status"] == "available"
    )
    assert frame.loc[("triage", triage.data["prompt_template_hash"])]["uses"] == 1
    shown = loop.instance.get_latest_materialization_event(AssetKey("prompt_registry"))
    assert shown is not None and shown.asset_materialization is not None
    assert new.version in str(shown.asset_materialization.metadata["versions"].value)
