"""Budgets, quality gates, cost tables with their checks, and backfills that re-score from recorded events."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import AssetKey
from paid_standins.inprocess import sensor_tick

from paid_dagster.keys import issue_key
from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.ledger import Ledger

from ..agent.harness import bash, harness
from ..decision_counts import choices, decisions
from ..loop.conftest import Loop


def set_config(loop: Loop, **changes: object) -> None:
    data = yaml.safe_load(loop.stack.config_path.read_text())
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for part in path:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        target[last] = value
    loop.stack.config_path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_spent_budget_stops_dispatch_for_the_project(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    first = sensor_tick(loop.instance, loop.defs, None)
    spent = sum(e.data["cost_usd"] for e in Ledger(loop.ledger_url).read(kinds=["llm.call"]))
    assert len(first.launched) == 1 and spent > 0
    set_config(loop, repositories__0__budget_daily_usd=spent * 1.1)  # 91 %: a warning, still running
    number = forge.as_user(seed.outsider).create_issue(seed.repo, "Cart total leaves out the first item again", "x")
    forge.as_user(seed.writer).label(seed.repo, number, "paid-build")
    warned = sensor_tick(loop.instance, loop.defs, first.cursor, execute=False)
    warnings = Ledger(loop.ledger_url).read(kinds=["budget.warning"])
    assert warned.run_keys and len(warnings) == 1 and "91%" in warnings[0].data["reason"]
    set_config(loop, repositories__0__budget_daily_usd=spent * 0.5)
    stopped = sensor_tick(loop.instance, loop.defs, first.cursor)
    assert (
        not stopped.run_keys
        and "daily budget" in (stopped.skip_reason or "")
        and seed.repo in (stopped.skip_reason or "")
    )
    assert len(Ledger(loop.ledger_url).read(kinds=["budget.exceeded"])) == 1
    sensor_tick(loop.instance, loop.defs, first.cursor)  # still spent: dispatch stays stopped, decided once
    stops = decisions(Ledger(loop.ledger_url), DecisionKind.BUDGET_STOP, f"project:{seed.repo}")
    assert [e.data["choice"] for e in stops] == ["stop_dispatch"] and stops[0].data["context"]["budget"] == "daily"
    # CI fails on the open PR: the follow-up is decided, and blocked by the budget, once however many ticks.
    from paid_dagster.sensors import paid_pr_sensor

    pr = forge.store.one("SELECT i.number, p.head_sha FROM pulls p JOIN issues i ON i.id = p.issue_id")
    assert pr is not None
    forge.as_user(seed.admin).check_run(seed.repo, pr["head_sha"], "tests", "failure", "1 failed")
    cursor = None
    for _ in range(2):
        tick = sensor_tick(loop.instance, loop.defs, cursor, sensor=paid_pr_sensor)
        cursor = tick.cursor
        assert not [k for k in tick.run_keys if ":follow_up:" in k]
    key = issue_key(seed.repo, 1)
    follow_ups = decisions(Ledger(loop.ledger_url), DecisionKind.FOLLOW_UP, key)
    assert [e.data["choice"] for e in follow_ups] == ["requested", "blocked"]
    assert "daily budget" in follow_ups[1].data["rationale"]


def test_a_run_in_flight_stops_before_its_next_model_call(tmp_path: Path) -> None:
    from paid_dagster.llm import LLMGateway
    from paid_dagster.outcomes.budgets import budget_status

    turns = [{**bash(f"echo {i} > f{i}.txt"), "prompt_tokens": 100_000} for i in range(10)]
    with harness(tmp_path, {"conversations": [{"turns": turns}]}, checks=False) as h:

        def guard() -> str | None:
            status = budget_status(h.ledger, h.seed.repo, 0.5, None)
            return status.reason if status.level == "exceeded" else None

        from paid_dagster.agent.run import AgentRunRequest, run_agent

        run = run_agent(
            AgentRunRequest(
                config=h.config,
                settings=h.config.repositories[0],
                issue=h.client.snapshot(h.seed.repo, 1),
                clone_url=h.client.repo(h.seed.repo).clone_url,
                default_branch="main",
                token=h.forge.token(h.seed.bot),
                gateway=LLMGateway(h.config.model, h.ledger, guard),
                ledger=h.ledger,
                run_id="budgetrun",
            )
        )
        assert run.outcome == "budget_exceeded" and len(h.model.calls) == 2 and run.commits_ahead == 1
        refused = h.ledger.read(kinds=["budget.exceeded"])
        assert len(refused) == 1 and "daily budget of $0.50" in refused[0].data["reason"]
        stops = decisions(h.ledger, DecisionKind.BUDGET_STOP)
        assert [(e.data["choice"], e.data["run_id"]) for e in stops] == [("stop_run", "budgetrun")]
        assert "daily budget of $0.50" in stops[0].data["rationale"]


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_tripped_quality_gate_pauses_dispatch_until_resumed(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    ledger = Ledger(loop.ledger_url)
    now = datetime.now(UTC)
    for i in range(12):  # a good month...
        ledger.append(
            f"octo-org__shopcart__{100 + i}",
            "quality.scored",
            {"project": seed.repo, "score": 0.9, "partition_key": f"octo-org__shopcart__{100 + i}"},
            at=now - timedelta(days=20),
        )
    for i in range(6):  # ...and a bad week
        ledger.append(
            f"octo-org__shopcart__{200 + i}",
            "quality.scored",
            {"project": seed.repo, "score": 0.1, "partition_key": f"octo-org__shopcart__{200 + i}"},
            at=now - timedelta(days=1),
        )
    loop.instance.add_dynamic_partitions("paid_issues", [issue_key(seed.repo, 1)])
    result = loop.defs.resolve_job_def("paid_score").execute_in_process(
        instance=loop.instance, partition_key=issue_key(seed.repo, 1), raise_on_error=False
    )
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks["project_quality_gate"] is False
    tripped = ledger.read(kinds=["gate.tripped"])
    assert len(tripped) == 1 and "7-day mean" in tripped[0].data["reason"]
    forge.as_user(seed.writer).label(seed.repo, 1, "paid-build")
    paused = sensor_tick(loop.instance, loop.defs, None)
    assert not paused.run_keys and "paused by its quality gate" in (paused.skip_reason or "")
    resumed = subprocess.run(
        [
            str(Path(sys.executable).parent / "paid"),
            "resume",
            seed.repo,
            "--by",
            "tester",
            "--ledger-url",
            loop.ledger_url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0 and "resumed" in resumed.stdout
    assert [e.kind for e in ledger.read(kinds=["gate.tripped", "gate.resumed"])] == ["gate.tripped", "gate.resumed"]
    project = f"project:{seed.repo}"
    assert choices(ledger, DecisionKind.GATE_PAUSE, project) == ["pause"]
    assert choices(ledger, DecisionKind.GATE_RESUME, project) == ["resume"]
    assert "7-day mean" in decisions(ledger, DecisionKind.GATE_PAUSE)[0].data["rationale"]
    running = sensor_tick(loop.instance, loop.defs, None)
    assert len(running.launched) == 1


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_backfill_rescores_200_partitions_from_events_only(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    ledger = Ledger(loop.ledger_url)
    keys = [issue_key(seed.repo, 1000 + i) for i in range(200)]
    rows = []
    for i, key in enumerate(keys):
        rows += [
            {"stream": key, "kind": "run.finished", "data": {"outcome": "completed"}},
            {
                "stream": key,
                "kind": "pr.observed",
                "data": {"state": "closed", "merged": i % 2 == 0, "ci": "success" if i % 3 else "failure"},
            },
        ]
    ledger.append_many(rows)
    loop.instance.add_dynamic_partitions("paid_issues", keys)
    job = loop.defs.resolve_job_def("paid_score")
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}

    def backfill() -> None:
        result = job.execute_in_process(instance=loop.instance, tags=tags, raise_on_error=False)
        assert result.is_node_success("quality_score")  # (the project gate may trip on these synthetic scores)

    backfill()
    before = {e.stream: e.data["score"] for e in ledger.read(kinds=["quality.scored"])}
    set_config(loop, scoring__merged=0.6)  # the formula changes: merging weighs twice as much
    mark, model_calls = forge.request_mark(), len(loop.stack.model.calls)
    backfill()
    assert forge.requests(mark) == [] and len(loop.stack.model.calls) == model_calls  # no GitHub, no model
    after = {e.stream: e.data["score"] for e in ledger.read(kinds=["quality.scored"])}
    assert len(after) == 200
    merged_key, unmerged_key = keys[0], keys[1]
    assert after[merged_key] > before[merged_key] and after[unmerged_key] < before[unmerged_key]
    # new score = weighted sum / total weight (1.3): merged 0.6 + ci 0 + vote 0.1 + iterations 0.15 + 0.05 + 0.025
    assert after[merged_key] == pytest.approx((0.6 + 0.0 + 0.2 * 0.5 + 0.15 + 0.1 * 0.5 + 0.05 * 0.5) / 1.3)


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_cost_checks_fail_on_a_corrupted_day_and_pass_on_a_good_one(loop: Loop) -> None:
    ledger = Ledger(loop.ledger_url)
    good, bad = date(2026, 3, 10), date(2026, 3, 11)
    at_good = datetime(2026, 3, 10, 12, tzinfo=UTC)
    at_bad = datetime(2026, 3, 11, 12, tzinfo=UTC)
    for i in range(5):
        ledger.append(
            f"octo-org__shopcart__{i}",
            "llm.call",
            {"model": "openai/paid-scripted", "tokens_in": 100, "tokens_out": 10, "cost_usd": 0.01},
            at=at_good,
        )
    ledger.append("octo-org__shopcart__1", "llm.call", {"model": "openai/paid-scripted", "cost_usd": 0.01}, at=at_bad)
    ledger.append("octo-org__shopcart__2", "llm.call", {"model": None, "cost_usd": -0.5}, at=at_bad)
    ledger.append("not-an-issue-stream", "llm.call", {"model": "m", "cost_usd": 0.02}, at=at_bad)
    job = loop.defs.resolve_job_def("paid_costs")

    def run(day: date):  # type: ignore[no-untyped-def]
        result = job.execute_in_process(instance=loop.instance, partition_key=day.isoformat(), raise_on_error=False)
        evaluations = [
            e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        return evaluations[0]

    assert run(good).passed is True
    failed = run(bad)
    reasons = failed.metadata["failed"].value
    assert failed.passed is False
    assert "expect_column_values_to_be_between(cost_usd)" in reasons
    assert "expect_column_values_to_not_be_null(model)" in reasons and "(project)" in reasons
    event = loop.instance.get_latest_materialization_event(AssetKey("llm_costs"))
    assert event is not None


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_the_cost_check_holds_while_runs_keep_recording_calls(loop: Loop) -> None:
    """A call recorded after the rollup read the ledger (an agent still running) is the next rollup's: the check
    compares the day's rows with the ledger as the rollup read it, not as it is a moment later."""
    from dagster import materialize

    from paid_dagster.assets.outcomes import llm_costs, llm_costs_valid

    ledger = Ledger(loop.ledger_url)
    day = datetime.now(UTC).date()
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    call = {"model": "openai/paid-scripted", "tokens_in": 100, "tokens_out": 10, "cost_usd": 0.01}
    ledger.append("octo-org__shopcart__1", "llm.call", call, at=at)
    resources = loop.defs.resources
    rolled = materialize([llm_costs], instance=loop.instance, partition_key=day.isoformat(), resources=resources)
    assert rolled.success
    ledger.append("octo-org__shopcart__1", "llm.call", call, at=at)  # a run's call, after the rollup read
    job = loop.defs.resolve_job_def("paid_costs")
    check_only = job.get_subset(asset_selection=set(), asset_check_selection={llm_costs_valid.check_key})
    checked = check_only.execute_in_process(instance=loop.instance, partition_key=day.isoformat())
    evaluations = [
        e.asset_check_evaluation_data for e in checked.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert [e.passed for e in evaluations] == [True], evaluations[0].metadata["failed"].value
    # The next rollup takes the late call in, and the check holds again.
    again = materialize([llm_costs], instance=loop.instance, partition_key=day.isoformat(), resources=resources)
    event = loop.instance.get_latest_materialization_event(AssetKey("llm_costs"))
    assert again.success and event.asset_materialization.metadata["cost_usd"].value == pytest.approx(0.02)  # type: ignore[union-attr]


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_spend_and_costs_carry_tables_and_charts(loop: Loop) -> None:
    import sqlalchemy as sa

    ledger = Ledger(loop.ledger_url)
    today = datetime.now(UTC).date()
    for days_ago, cost in ((0, 0.40), (1, 0.20), (3, 0.10)):
        at = datetime(today.year, today.month, today.day, 1, tzinfo=UTC) - timedelta(days=days_ago)
        ledger.append("octo-org__shopcart__1", "llm.call", {"model": "m", "cost_usd": cost, "tokens_in": 1}, at=at)
    costs = loop.defs.resolve_job_def("paid_costs").execute_in_process(
        instance=loop.instance, partition_key=today.isoformat()
    )
    assert costs.success
    table = loop.instance.get_latest_materialization_event(AssetKey("llm_costs")).asset_materialization.metadata  # type: ignore[union-attr]
    assert (
        "| day | project | model |" in table["by_project_and_model"].value
        and "Cost by hour" in table["by_project_and_model"].value
    )
    from dagster import materialize

    from paid_dagster.assets.outcomes import project_spend

    spend = materialize([project_spend], instance=loop.instance, resources=loop.defs.resources)
    meta = spend.asset_materializations_for_node("project_spend")[0].metadata
    month_days = [d for d in (0, 1, 3) if (today - timedelta(days=d)).month == today.month]
    expected_mtd = sum(c for d, c in ((0, 0.40), (1, 0.20), (3, 0.10)) if d in month_days)
    assert meta["month_to_date_usd"].value == pytest.approx(expected_mtd)
    assert ("trend_7d" in meta["spend"].value and "▁" in meta["spend"].value) or "█" in meta["spend"].value
    with Ledger(loop.ledger_url).engine.connect() as conn:  # the tables BI tools read
        assert conn.execute(sa.text("SELECT COUNT(*) FROM paid_project_spend")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT SUM(cost_usd) FROM paid_llm_costs")).scalar_one() == pytest.approx(0.40)


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_the_resume_label_lifts_a_pause_and_notices_reach_a_webhook(loop: Loop) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from paid_dagster.outcomes import gates

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seed, forge = loop.stack.seed, loop.stack.forge
    ledger = Ledger(loop.ledger_url)
    gates.trip(ledger, seed.repo, "7-day mean quality fell")
    set_config(
        loop,
        notifier__kind="webhook",
        notifier__url=f"http://127.0.0.1:{server.server_address[1]}/hook",
        repositories__0__budget_daily_usd=0.0001,
    )
    ledger.append("octo-org__shopcart__1", "llm.call", {"model": "m", "cost_usd": 0.00009})
    forge.as_user(seed.outsider).create_issue(seed.repo, "unrelated", "x")
    forge.grant(seed.repo, seed.outsider, "triage")
    forge.as_user(seed.outsider).label(seed.repo, 2, "paid-resume")  # not trusted: stays paused
    assert "paused" in (sensor_tick(loop.instance, loop.defs, None).skip_reason or "")
    forge.as_user(seed.writer).unlabel(seed.repo, 2, "paid-resume")
    forge.as_user(seed.writer).label(seed.repo, 2, "paid-resume")
    tick = sensor_tick(loop.instance, loop.defs, None, execute=False)
    assert "paused" not in (tick.skip_reason or "")
    assert gates.gate_state(ledger, seed.repo) == (False, "")
    assert ledger.read(kinds=["gate.resumed"])[0].data["by"].startswith(seed.writer)
    issue = forge.service.find_issue(forge.repo(seed.repo), 2)
    assert "paid-resume" not in [label["name"] for label in forge.store.labels_of(issue["id"])]
    assert received and received[0]["kind"] == "budget.warning" and received[0]["project"] == seed.repo
    server.shutdown()


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_yesterdays_costs_are_rolled_up_again_once_late_calls_exist(loop: Loop) -> None:
    import sqlalchemy as sa

    from paid_dagster.sensors import paid_late_costs_sensor

    ledger = Ledger(loop.ledger_url)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    evening = datetime(yesterday.year, yesterday.month, yesterday.day, 23, tzinfo=UTC)

    def call(at: datetime, cost: float) -> None:
        ledger.append("octo-org__shopcart__1", "llm.call", {"model": "m", "cost_usd": cost, "tokens_in": 1}, at=at)

    def tick() -> Any:
        return sensor_tick(loop.instance, loop.defs, None, sensor=paid_late_costs_sensor)

    def rolled_up() -> float:
        with ledger.engine.connect() as conn:
            query = sa.text("SELECT SUM(cost_usd) FROM paid_llm_costs WHERE partition_key = :day")
            return float(conn.execute(query, {"day": yesterday.isoformat()}).scalar_one() or 0.0)

    call(evening, 0.10)
    # The last on-cron materialization of the day, at 23:30.
    job = loop.defs.resolve_job_def("paid_costs")
    assert job.execute_in_process(instance=loop.instance, partition_key=yesterday.isoformat()).success
    assert rolled_up() == pytest.approx(0.10)
    idle = tick()
    assert not idle.run_keys and "counted every call" in (idle.skip_reason or "")
    call(evening + timedelta(minutes=45), 0.05)  # 23:45: after the last tick before midnight
    late = tick()
    assert late.run_keys == [f"llm_costs:{yesterday}:{ledger.last_seq('llm.call')}"] and len(late.launched) == 1
    assert rolled_up() == pytest.approx(0.15)  # yesterday's partition now counts the late call
    after = tick()
    assert not after.run_keys  # once: every call is counted now
    call(datetime.now(UTC), 0.01)  # today's calls are the cron's business
    assert not tick().run_keys
