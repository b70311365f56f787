"""Quality scores from what happens to Paid's pull requests, observed by the PR sensor."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import AssetKey
from paid_standins.inprocess import sensor_tick

from paid_dagster.keys import issue_key
from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.ledger import Ledger
from paid_dagster.sensors import paid_pr_sensor

from ..decision_counts import choices, decisions
from ..loop.conftest import Loop

pytestmark = pytest.mark.parametrize("loop", ["sqlite"], indirect=True)


def build_pr(loop: Loop) -> tuple[int, str]:
    seed, forge = loop.stack.seed, loop.stack.forge
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    tick = sensor_tick(loop.instance, loop.defs, None)
    assert len(tick.launched) == 1
    pull = forge.store.one("SELECT i.number, p.head_sha FROM pulls p JOIN issues i ON i.id = p.issue_id")
    assert pull is not None
    return int(pull["number"]), str(pull["head_sha"])


def pr_tick(loop: Loop, cursor: str | None) -> Any:
    return sensor_tick(loop.instance, loop.defs, cursor, sensor=paid_pr_sensor)


def latest_score(loop: Loop) -> dict[str, Any]:
    event = loop.instance.get_latest_materialization_event(AssetKey("quality_score"))
    assert event is not None and event.asset_materialization is not None
    meta = event.asset_materialization.metadata
    scored = Ledger(loop.ledger_url).last(issue_key(loop.stack.seed.repo, 1), "quality.scored")
    assert scored is not None
    return {"score": meta["score"].value, "components": scored.data["components"], "settled": meta["settled"].value}


def test_merged_green_first_try_and_a_thumbs_up_scores_high(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    number, head = build_pr(loop)
    admin = forge.as_user(seed.admin)
    admin.check_run(seed.repo, head, "tests", "success", "3 passed")
    forge.as_user(seed.writer).react(seed.repo, number, "+1")
    forge.as_user(seed.outsider).react(seed.repo, number, "-1")  # not trusted: not counted
    admin.merge(seed.repo, number)
    tick = pr_tick(loop, None)
    assert len(tick.launched) == 1 and tick.run_keys[0].startswith(issue_key(seed.repo, 1) + ":score:")
    score = latest_score(loop)
    assert score["score"] >= 0.9 and score["settled"]
    assert score["components"]["merged"] == 1 and score["components"]["human_vote"] == 1
    idle = pr_tick(loop, tick.cursor)  # settled: nothing more to follow
    assert not idle.launched


def test_closed_unmerged_with_a_thumbs_down_scores_low(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    loop.stack.model.script.conversations.insert(
        0,
        {
            "match": "total_cents|Cart total",
            "turns": [
                {
                    "content": "THOUGHT: quick hack\n\n```mswea_bash_command\nprintf 'import os\\n' >> shopcart/cart.py\n```"
                },
                {"content": "THOUGHT: done\n\n```mswea_bash_command\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"},
            ],
        },
    )
    number, head = build_pr(loop)
    forge.as_user(seed.admin).check_run(seed.repo, head, "tests", "failure", "2 failed")
    forge.as_user(seed.writer).comment(seed.repo, number, "-1")
    forge.as_user(seed.admin).close(seed.repo, number)
    pr_tick(loop, None)
    score = latest_score(loop)
    assert score["score"] <= 0.2 and score["components"]["human_vote"] == 0 and score["components"]["merged"] == 0


def test_ci_failure_gets_a_follow_up_and_the_score_counts_two_iterations(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    _number, head = build_pr(loop)
    forge.as_user(seed.admin).check_run(seed.repo, head, "tests", "failure", "test_total_counts_every_item failed")
    first = pr_tick(loop, None)
    follow_ups = [k for k in first.run_keys if ":follow_up:ci_failed:" in k]
    assert len(follow_ups) == 1 and len(first.launched) == 2  # the re-score and the follow-up run
    runs = Ledger(loop.ledger_url).read(stream=issue_key(seed.repo, 1), kinds=["run.started"])
    assert [r.data.get("cause") for r in runs] == ["label", "follow_up"]
    follow_up_decisions = decisions(Ledger(loop.ledger_url), DecisionKind.FOLLOW_UP, issue_key(seed.repo, 1))
    assert [(e.data["choice"], e.data["context"]["reason"]) for e in follow_up_decisions] == [
        ("requested", "ci_failed")
    ]
    latest_run = loop.instance.get_latest_materialization_event(AssetKey("agent_run"))
    assert latest_run is not None and latest_run.asset_materialization is not None
    assert latest_run.asset_materialization.metadata["reason"].value == "ci_failed"
    prompt = next(
        c.last_user_message
        for c in reversed(loop.stack.model.calls)
        if c.turn == 0 and "follow-up on the open pull request" in c.last_user_message
    )
    assert "test_total_counts_every_item failed" in prompt and "follow-up" in prompt
    new_head = forge.store.scalar("SELECT head_sha FROM pulls")
    forge.as_user(seed.admin).check_run(seed.repo, new_head, "tests", "success", "3 passed")
    pr_tick(loop, first.cursor)
    score = latest_score(loop)
    assert score["components"]["iterations"] == pytest.approx(0.9) and score["components"]["ci_first_try"] == 0
    assert forge.store.scalar("SELECT COUNT(*) FROM pulls") == 1


def test_a_trusted_retry_command_starts_a_new_attempt(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    number, _ = build_pr(loop)
    forge.as_user(seed.writer).comment(seed.repo, number, "/paid retry")
    forge.as_user(seed.outsider).comment(seed.repo, number, "/paid retry")  # ignored: not trusted
    tick = pr_tick(loop, None)
    assert len([k for k in tick.run_keys if ":retry:" in k]) == 1
    pr_tick(loop, None)  # seen again: the same command is not a second trigger
    accepted = decisions(Ledger(loop.ledger_url), DecisionKind.TRIGGER, issue_key(seed.repo, 1))
    assert [(e.data["choice"], e.data["context"]["cause"]) for e in accepted] == [
        ("accepted", "label"),
        ("accepted", "retry_command"),
    ]
    assert len(loop.instance.fetch_materializations(AssetKey("agent_run"), limit=10).records) == 2


def test_prompt_outcomes_relate_prompt_versions_and_models_to_scores_and_cost(loop: Loop) -> None:
    from dagster import materialize

    from paid_dagster.assets.outcomes import prompt_outcomes

    seed, forge = loop.stack.seed, loop.stack.forge
    number, head = build_pr(loop)
    forge.as_user(seed.admin).check_run(seed.repo, head, "tests", "success", "ok")
    forge.as_user(seed.admin).merge(seed.repo, number)
    pr_tick(loop, None)
    result = materialize([prompt_outcomes], instance=loop.instance, resources=loop.defs.resources)
    frame = result.output_for_node("prompt_outcomes")
    assert len(frame) == 1
    row = frame.iloc[0]
    run = Ledger(loop.ledger_url).read(kinds=["run.finished"])[0].data
    assert row["prompt_version"] == run["prompt_template_hash"] and row["model"] == "openai/paid-scripted"
    assert row["runs"] == 1 and row["mean_score"] == pytest.approx(latest_score(loop)["score"])
    assert row["mean_cost_usd"] > 0 and row["cost_per_point_usd"] == pytest.approx(
        row["mean_cost_usd"] / row["mean_score"]
    )


def test_when_the_follow_ups_run_out_the_issue_is_told_once_and_labeled(loop: Loop) -> None:
    import yaml

    from paid_dagster.config import load_config
    from paid_dagster.github.client import GitHubClient
    from paid_dagster.github.follow import tell_about_exhaustion

    seed, forge = loop.stack.seed, loop.stack.forge
    data = yaml.safe_load(loop.stack.config_path.read_text())
    data["repositories"][0]["max_follow_ups"] = 1
    loop.stack.config_path.write_text(yaml.safe_dump(data))
    number, head = build_pr(loop)
    follow_up = [  # the follow-up commits something, so CI runs again on a new head
        {"content": "THOUGHT: more\n\n```mswea_bash_command\necho '# checked' >> shopcart/cart.py\n```"},
        {"content": "THOUGHT: done\n\n```mswea_bash_command\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"},
    ]
    loop.stack.model.script.conversations.insert(0, {"match": "follow-up on the open pull request", "turns": follow_up})
    admin = forge.as_user(seed.admin)
    admin.check_run(seed.repo, head, "tests", "failure", "test_total_counts_every_item failed")
    first = pr_tick(loop, None)
    assert len([k for k in first.run_keys if ":follow_up:ci_failed:" in k]) == 1  # the one follow-up allowed
    assert admin.head_sha(seed.repo, number) != head
    admin.check_run(seed.repo, admin.head_sha(seed.repo, number), "tests", "failure", "still failing")
    second = pr_tick(loop, first.cursor)
    assert not [k for k in second.run_keys if ":follow_up:" in k]
    key = issue_key(seed.repo, 1)
    ledger = Ledger(loop.ledger_url)
    assert [e.data["escalated"] for e in ledger.read(stream=key, kinds=["follow_up.exhausted"])] == [True]
    issue = forge.service.find_issue(forge.repo(seed.repo), 1)

    def notices() -> list[str]:
        bodies = [c["body"] for c in forge.store.all("SELECT body FROM comments WHERE issue_id = ?", issue["id"])]
        return [b for b in bodies if "<!-- paid:needs-human:followups-exhausted:" in b]

    assert len(notices()) == 1 and "needs a person" in notices()[0] and "still failing" in notices()[0]
    assert "paid-needs-human" in [label["name"] for label in forge.store.labels_of(issue["id"])]
    # More changes on the PR: no second notice, no follow-up.
    admin.check_run(seed.repo, admin.head_sha(seed.repo, number), "lint", "failure", "again")
    third = pr_tick(loop, second.cursor)
    assert not [k for k in third.run_keys if ":follow_up:" in k] and len(notices()) == 1
    # One follow-up and its exhaustion, each decided once however many ticks (the PR still failing is no new fact).
    pr_tick(loop, third.cursor)
    assert choices(ledger, DecisionKind.FOLLOW_UP, key) == ["requested", "exhausted"]
    # A ledger that lost the record (a crash between the comment and the event): GitHub's marker guards it.
    other = Ledger(f"sqlite:///{loop.stack.config_path.parent / 'other-ledger.sqlite3'}")
    exhausted = ledger.last(key, "follow_up.exhausted")
    assert exhausted is not None
    other.append(key, "follow_up.exhausted", exhausted.data)
    client = GitHubClient(load_config(loop.stack.config_path).github, forge.token(seed.bot))
    assert tell_about_exhaustion(client, other, key) is False and len(notices()) == 1
    assert other.read(stream=key, kinds=["issue.commented"])  # now recorded there too
