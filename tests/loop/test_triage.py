"""Triage: an unclear issue gets one question and `needs-info`, the agent is skipped; the author's reply
triggers triage again, which now lets the work go ahead."""

from __future__ import annotations

import pytest
import yaml
from dagster import AssetKey
from paid_standins.inprocess import sensor_tick
from paid_standins.model import SCRIPTS_DIR, Script

from paid_dagster.keys import issue_key
from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.ledger import Ledger

from ..decision_counts import choices
from ..decision_counts import decisions as decision_events
from .conftest import Loop

UNCLEAR = (
    '{"clear": false, "reason": "It does not say what rounding to use.", "question": "Should totals round'
    ' half up or half to even?", "assumption": "half up, as shops usually do"}'
)
CLEAR = '{"clear": true, "reason": "The author answered the question.", "question": "", "assumption": ""}'


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_unclear_issue_asks_once_and_the_reply_triggers_again(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    demo = yaml.safe_load((SCRIPTS_DIR / "demo.yaml").read_text())
    loop.stack.model.script = Script.load(
        {
            "conversations": [
                {"match": "(?i)You triage GitHub issues.*round half up, please", "turns": [{"content": CLEAR}]},
                {"match": "You triage GitHub issues", "turns": [{"content": UNCLEAR}]},
                *demo["conversations"][1:],
            ]
        }
    )
    number = forge.as_user(seed.outsider).create_issue(seed.repo, "Cart total is off by a cent", "Totals are wrong")
    forge.as_user(seed.writer).label(seed.repo, number, "paid-build")
    key = issue_key(seed.repo, number)

    first = sensor_tick(loop.instance, loop.defs, None)
    assert len(first.launched) == 1  # the run succeeds: agent_run and pull_request were skipped, not failed
    issue = forge.service.find_issue(forge.repo(seed.repo), number)
    assert "needs-info" in [label["name"] for label in forge.store.labels_of(issue["id"])]
    comments = [c["body"] for c in forge.store.all("SELECT body FROM comments WHERE issue_id = ?", issue["id"])]
    assert len(comments) == 1 and "round half up or half to even" in comments[0] and "half up, as shops" in comments[0]
    assert loop.instance.get_latest_materialization_event(AssetKey("agent_run")) is None
    observation = loop.instance.fetch_observations(AssetKey("triage"), limit=1).records[0]
    assert observation.asset_observation.metadata["decision"].value == "needs_info"  # type: ignore[union-attr]

    idle = sensor_tick(loop.instance, loop.defs, first.cursor)  # nothing new: no second question
    assert not idle.launched and len(forge.store.all("SELECT 1 FROM comments WHERE issue_id = ?", issue["id"])) == 1

    forge.as_user(seed.outsider).comment(seed.repo, number, "Round half up, please.")
    second = sensor_tick(loop.instance, loop.defs, idle.cursor)
    assert len(second.launched) == 1 and second.run_keys[0].startswith(f"{key}:reply:")
    assert "needs-info" not in [label["name"] for label in forge.store.labels_of(issue["id"])]
    decisions = [e.data["clear"] for e in Ledger(loop.ledger_url).read(stream=key, kinds=["triage.decided"])]
    assert decisions == [False, True]
    ledger = Ledger(loop.ledger_url)
    assert choices(ledger, DecisionKind.TRIAGE, key) == ["needs_info", "clear"]
    causes = [e.data["context"]["cause"] for e in decision_events(ledger, DecisionKind.TRIGGER, key)]
    assert choices(ledger, DecisionKind.TRIGGER, key) == ["accepted", "accepted"] and causes == ["label", "reply"]
    assert loop.instance.get_latest_materialization_event(AssetKey("agent_run")) is not None


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_backfilling_an_unclear_triage_asks_nothing_again(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    demo = yaml.safe_load((SCRIPTS_DIR / "demo.yaml").read_text())
    loop.stack.model.script = Script.load(
        {
            "conversations": [
                {"match": "You triage GitHub issues", "turns": [{"content": UNCLEAR}]},
                *demo["conversations"][1:],
            ]
        }
    )
    number = forge.as_user(seed.outsider).create_issue(seed.repo, "Cart total is off by a cent", "Totals are wrong")
    forge.as_user(seed.writer).label(seed.repo, number, "paid-build")
    key = issue_key(seed.repo, number)
    assert len(sensor_tick(loop.instance, loop.defs, None).launched) == 1
    mark, model_calls = forge.request_mark(), len(loop.stack.model.calls)
    result = loop.defs.resolve_job_def("paid_build").execute_in_process(
        instance=loop.instance,
        partition_key=key,
        asset_selection=[AssetKey("triage")],
        tags={"dagster/backfill": "abcdefgh"},
    )
    assert result.success
    assert forge.requests(mark) == [] and len(loop.stack.model.calls) == model_calls  # no GitHub, no model
    issue = forge.service.find_issue(forge.repo(seed.repo), number)
    assert len(forge.store.all("SELECT 1 FROM comments WHERE issue_id = ?", issue["id"])) == 1  # asked once only
    assert len(Ledger(loop.ledger_url).read(stream=key, kinds=["triage.decided"])) == 1
    assert choices(Ledger(loop.ledger_url), DecisionKind.TRIAGE, key) == ["needs_info"]  # not decided again
    observation = loop.instance.fetch_observations(AssetKey("triage"), limit=1).records[0]
    metadata = observation.asset_observation.metadata  # type: ignore[union-attr]
    assert metadata["decision"].value == "needs_info" and "ledger event" in metadata["rederived_from"].value
