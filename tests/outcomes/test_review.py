"""Review: risk tiers from changed paths, AI review posted on the PR, remediation, then escalation."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from paid_standins.inprocess import sensor_tick

from paid_dagster.agent.review import ReviewFinding, ReviewOutcome, ReviewState, risk_tier
from paid_dagster.keys import issue_key
from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.ledger import Ledger

from ..decision_counts import all_decisions, choices
from ..loop.conftest import Loop

BLOCKING = (
    '{"findings": [{"file": "shopcart/cart.py", "line": 15, "category": "security", "severity": "blocking",'
    ' "message": "The total trusts caller-supplied prices; validate them."}]}'
)


def test_risk_tiers_follow_the_policy_and_unmatched_paths_are_medium() -> None:
    policy = [{"glob": "docs/*", "tier": "low"}, {"glob": "auth/*", "tier": "high"}, {"glob": "*.md", "tier": "low"}]
    assert risk_tier(["docs/a.md", "README.md"], policy)[0] == "low"
    assert risk_tier(["docs/a.md", "src/x.py"], policy) == ("medium", {"docs/a.md": "low", "src/x.py": "medium"})
    assert risk_tier(["auth/login.py", "README.md"], policy)[0] == "high"


def test_a_review_outcome_reads_back_from_its_ledger_record_as_it_was() -> None:
    finding = ReviewFinding("shopcart/cart.py", 15, "security", "blocking", "validate the prices")
    outcome = ReviewOutcome(ReviewState.ESCALATED, "high", 3, (finding,))
    stored = json.loads(json.dumps(outcome.as_dict()))  # what the ledger keeps: plain JSON
    assert stored["state"] == "escalated" and stored["findings"][0]["file"] == "shopcart/cart.py"
    back = ReviewOutcome.recorded(stored, "ledger event 7")
    assert back == replace(outcome, rederived_from="ledger event 7") and back.escalated


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_blocking_findings_are_remediated_twice_then_escalated(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    data = yaml.safe_load(loop.stack.config_path.read_text())
    data["github"]["review_token_env"] = "PAID_REVIEW_TOKEN"
    loop.stack.config_path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("PAID_REVIEW_TOKEN", forge.token(seed.admin))
    loop.stack.model.script.conversations.insert(
        0, {"match": "You review a pull request", "turns": [{"content": BLOCKING}]}
    )
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert len(tick.launched) == 1
    key = issue_key(seed.repo, 1)
    ledger = Ledger(loop.ledger_url)
    reviews = ledger.read(stream=key, kinds=["review.posted"])
    assert [r.data["round"] for r in reviews] == [1, 2, 3] and all(r.data["tier"] == "medium" for r in reviews)
    runs = ledger.read(stream=key, kinds=["run.started"])
    assert [r.data.get("cause") for r in runs] == ["label", "review", "review"]
    posted = forge.store.all("SELECT r.state, u.login FROM reviews r JOIN users u ON u.id = r.user_id ORDER BY r.id")
    assert [p["state"] for p in posted] == ["CHANGES_REQUESTED"] * 3 and posted[0]["login"] == seed.admin
    assert forge.store.scalar("SELECT COUNT(*) FROM review_comments") == 3
    issue = forge.service.find_issue(forge.repo(seed.repo), 1)
    assert "paid-needs-human" in [label["name"] for label in forge.store.labels_of(issue["id"])]
    comments = [c["body"] for c in forge.store.all("SELECT body FROM comments WHERE issue_id = ?", issue["id"])]
    assert any("needs a person" in c and "validate them" in c for c in comments)
    prompt = next(
        c.last_user_message
        for c in reversed(loop.stack.model.calls)
        if c.turn == 0 and "follow-up" in c.last_user_message
    )
    assert "trusts caller-supplied prices" in prompt
    assert forge.store.scalar("SELECT COUNT(*) FROM pulls") == 1
    assert choices(ledger, DecisionKind.REMEDIATION, key) == ["remediate", "remediate"]
    assert choices(ledger, DecisionKind.ESCALATION, key) == ["escalate"]


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_low_risk_changes_skip_the_ai_review(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    data = yaml.safe_load(loop.stack.config_path.read_text())
    data["repositories"][0]["risk_policy"] = [{"glob": "shopcart/*", "tier": "low"}]
    loop.stack.config_path.write_text(yaml.safe_dump(data))
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    sensor_tick(loop.instance, loop.defs, None)
    ledger = Ledger(loop.ledger_url)
    assert ledger.read(kinds=["review.skipped"]) and not ledger.read(kinds=["review.posted"])
    assert "review" not in [e.data["purpose"] for e in ledger.read(kinds=["llm.call"])]
    assert ledger.read(kinds=["checks.ran"])  # the tests still ran


def _escalated_build(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paid reviews as the admin (github.review_token_env), requests changes three times and escalates."""
    seed, forge = loop.stack.seed, loop.stack.forge
    data = yaml.safe_load(loop.stack.config_path.read_text())
    data["github"]["review_token_env"] = "PAID_REVIEW_TOKEN"
    loop.stack.config_path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("PAID_REVIEW_TOKEN", forge.token(seed.admin))
    loop.stack.model.script.conversations.insert(
        0, {"match": "You review a pull request", "turns": [{"content": BLOCKING}]}
    )
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    assert len(sensor_tick(loop.instance, loop.defs, None).launched) == 1
    assert Ledger(loop.ledger_url).read(stream=issue_key(seed.repo, 1), kinds=["review.escalated"])


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_paids_own_review_never_starts_follow_ups_after_escalation(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    from paid_dagster.sensors import paid_pr_sensor

    seed, forge = loop.stack.seed, loop.stack.forge
    _escalated_build(loop, monkeypatch)
    key = issue_key(seed.repo, 1)
    runs_before = len(Ledger(loop.ledger_url).read(stream=key, kinds=["run.started"]))
    first = sensor_tick(loop.instance, loop.defs, None, sensor=paid_pr_sensor)
    assert not [k for k in first.run_keys if ":follow_up:" in k]  # Paid's REQUEST_CHANGES is not a person's
    # Escalated: even a person's request for changes and a CI failure start no automatic follow-up.
    pr = int(forge.store.scalar("SELECT i.number FROM pulls p JOIN issues i ON i.id = p.issue_id"))
    forge.as_user(seed.writer).review(seed.repo, pr, "REQUEST_CHANGES", "please rename the loop variable")
    forge.as_user(seed.admin).check_run(seed.repo, forge.as_user(seed.admin).head_sha(seed.repo, pr), "ci", "failure")
    second = sensor_tick(loop.instance, loop.defs, first.cursor, sensor=paid_pr_sensor)
    assert second.run_keys and not [k for k in second.run_keys if ":follow_up:" in k]  # re-scored, not followed up
    ledger = Ledger(loop.ledger_url)
    assert not ledger.read(stream=key, kinds=["follow_up.requested"])
    assert len(ledger.read(stream=key, kinds=["run.started"])) == runs_before
    assert choices(ledger, DecisionKind.FOLLOW_UP, key) == ["refused"]  # once for the one change that asked


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_paids_review_identity_is_not_a_person_but_a_person_is(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    from paid_dagster.agent.review import ReviewFinding, review_body
    from paid_dagster.config import load_config
    from paid_dagster.github.client import GitHubClient
    from paid_dagster.sensors import paid_pr_sensor

    seed, forge = loop.stack.seed, loop.stack.forge
    data = yaml.safe_load(loop.stack.config_path.read_text())
    data["github"]["review_token_env"] = "PAID_REVIEW_TOKEN"
    loop.stack.config_path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("PAID_REVIEW_TOKEN", forge.token(seed.admin))
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    assert len(sensor_tick(loop.instance, loop.defs, None).launched) == 1  # the demo's review: minor only
    pr = int(forge.store.scalar("SELECT i.number FROM pulls p JOIN issues i ON i.id = p.issue_id"))
    # Paid's review identity requests changes, exactly as the review stage posts them (body and all).
    reviewer = GitHubClient(load_config(loop.stack.config_path).github, forge.token(seed.admin))
    finding = ReviewFinding("shopcart/cart.py", 15, "security", "blocking", "validate the prices")
    assert reviewer.post_review(seed.repo, pr, "REQUEST_CHANGES", review_body("medium", [finding], 1), []) == (
        "CHANGES_REQUESTED"
    )
    first = sensor_tick(loop.instance, loop.defs, None, sensor=paid_pr_sensor)
    assert not [k for k in first.run_keys if ":follow_up:" in k]
    # A person's request for changes is followed up, with their notes.
    forge.as_user(seed.writer).review(seed.repo, pr, "REQUEST_CHANGES", "please rename the loop variable")
    second = sensor_tick(loop.instance, loop.defs, first.cursor, sensor=paid_pr_sensor)
    assert len([k for k in second.run_keys if ":follow_up:changes_requested:" in k]) == 1
    requested = Ledger(loop.ledger_url).read(stream=issue_key(seed.repo, 1), kinds=["follow_up.requested"])
    assert len(requested) == 1 and "rename the loop variable" in requested[0].data["details"]
    assert "validate the prices" not in requested[0].data["details"]
    assert choices(Ledger(loop.ledger_url), DecisionKind.FOLLOW_UP, issue_key(seed.repo, 1)) == ["requested"]


def backfill(loop: Loop, key: str, *assets: str) -> Any:
    """What a backfill of these assets runs for one partition: a run of them alone, tagged as a backfill's."""
    from dagster import AssetKey

    return loop.defs.resolve_job_def("paid_build").execute_in_process(
        instance=loop.instance,
        partition_key=key,
        asset_selection=[AssetKey(a) for a in assets],
        tags={"dagster/backfill": "abcdefgh"},
        raise_on_error=False,
    )


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_backfilling_triage_and_review_rederives_them_without_the_model_or_github(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import AssetKey, materialize

    from paid_dagster.assets.decisions import decisions, quality_signals

    seed, forge = loop.stack.seed, loop.stack.forge
    _escalated_build(loop, monkeypatch)  # triage, the agent, three reviews, two remediations, an escalation
    key = issue_key(seed.repo, 1)
    ledger = Ledger(loop.ledger_url)
    before = {kind: len(ledger.read(stream=key, kinds=[kind])) for kind in ("triage.decided", "review.posted")}
    decided = all_decisions(ledger)
    mark, model_calls = forge.request_mark(), len(loop.stack.model.calls)
    for _ in range(2):  # a backfill, and another one
        result = backfill(loop, key, "triage", "review")
        assert result.success
        assert result.output_for_node("review").state == "escalated"
        assert result.output_for_node("review").rounds == 3
        assert result.output_for_node("triage")["clear"] is True
    rollups = materialize([decisions, quality_signals], instance=loop.instance, resources=loop.defs.resources)
    table = rollups.output_for_node("decisions").set_index(["decision", "choice"])
    assert table.loc[("remediation", "remediate"), "decisions"] == 2  # folded from the ledger alone...
    assert table.loc[("escalation", "escalate"), "decisions"] == 1
    assert forge.requests(mark) == []  # ...and not one request to GitHub, so no write either
    assert len(loop.stack.model.calls) == model_calls  # no model call
    assert {kind: len(ledger.read(stream=key, kinds=[kind])) for kind in before} == before
    assert all_decisions(ledger) == decided  # no decision taken again, none counted twice
    for asset in ("triage", "review"):
        latest = loop.instance.get_latest_materialization_event(AssetKey(asset))
        assert latest is not None and latest.asset_materialization is not None
        assert "ledger event" in latest.asset_materialization.metadata["rederived_from"].value
    # A review whose end the ledger does not hold is refused, with the reason, rather than done again.
    loop.stack.model.script.conversations.pop(0)
    assert len(ledger.read(stream=key, kinds=["review.finished"])) == 1
    with ledger.engine.begin() as conn:  # (the test's own surgery: the ledger itself never deletes)
        conn.execute(sa.text("DELETE FROM paid_events WHERE kind = 'review.finished'"))
    refused = backfill(loop, key, "review")
    assert not refused.success and forge.requests(mark) == [] and len(loop.stack.model.calls) == model_calls
    failure = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE")
    assert "cannot be re-derived from the ledger" in str(failure.step_failure_data.error)
