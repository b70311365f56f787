"""Decision points under adversity: a fact decided on again (a retried tick, a worker killed after recording, a
re-execution with the same run key) is one decision, never two. The paths themselves are driven end to end in
the tests that own them (see `tests/decision_counts.py` for who counts what)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paid_dagster.agent.triage import TriageDecision, record_triage
from paid_dagster.config import ModelSettings, RetrySettings
from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind
from paid_dagster.llm.gateway import BudgetExceeded, LLMGateway
from paid_dagster.outcomes import gates
from paid_dagster.outcomes.budgets import BudgetStatus, Notifier, record_budget
from paid_dagster.retries import Failure, decide, record_failure, record_verdict

from ..decision_counts import choices, decisions

KEY = "octo__shop__7"
ROOT = Path(__file__).resolve().parents[2]
# Recorded by other parts of the build: the prompt registry, experiments and the operator's stop.
ELSEWHERE = {DecisionKind.PROMPT, DecisionKind.EXPERIMENT_VARIANT, DecisionKind.CANCEL}


def test_every_decision_kind_is_recorded_somewhere_in_the_product() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "paid_dagster").rglob("*.py") if p.name != "decisions.py")
    used = {DecisionKind[name] for name in re.findall(r"DecisionKind\.([A-Z_]+)", source)}
    assert set(DecisionKind) - ELSEWHERE <= used, set(DecisionKind) - ELSEWHERE - used


def test_a_retry_verdict_taken_again_after_a_crash_is_one_decision(ledger: Ledger) -> None:
    settings = RetrySettings(max_attempts=3, backoff_seconds=60)
    record_failure(ledger, KEY, Failure("agent_run", True, "APITimeoutError", "timed out"), "run-1", 1, f"{KEY}:l:1")
    failed = ledger.read(kinds=[Kind.RUN_FAILED])[0]
    waiting = decide(settings, failed, failed.at)
    for _ in range(3):  # three ticks inside the backoff; the same verdict each time
        record_verdict(ledger, waiting, settings)
    due = decide(settings, failed, failed.at + timedelta(seconds=61))
    for _ in range(2):  # the retry recorded, the tick killed before its cursor moved, and the tick again
        record_verdict(ledger, due, settings)
    assert choices(ledger, DecisionKind.RETRY, KEY) == ["wait", "retry"]
    retry = decisions(ledger, DecisionKind.RETRY, KEY)[1].data
    assert retry["candidates"] == ["retry", "wait", "give_up", "superseded"] and retry["context"]["max_attempts"] == 3
    permanent = Failure("pull_request", False, "GithubException", "422 Validation Failed")
    record_failure(ledger, KEY, permanent, "run-2", 2, f"{KEY}:l:1:attempt:2")
    verdict = decide(settings, ledger.read(kinds=[Kind.RUN_FAILED])[1], datetime.now(UTC))
    record_verdict(ledger, verdict, settings)
    record_verdict(ledger, verdict, settings)
    assert choices(ledger, DecisionKind.RETRY, KEY) == ["wait", "retry", "give_up"]


def test_triage_recorded_again_for_the_same_attempt_and_run_key_is_one_decision(ledger: Ledger) -> None:
    verdict = TriageDecision(False, "vague", "Which rounding?", "half up", "tmpl", "rendered")
    record_triage(ledger, KEY, verdict, "dagster-run-1", "label-event-5", f"{KEY}:label-event:5")
    record_triage(ledger, KEY, verdict, "dagster-run-1", "label-event-5", f"{KEY}:label-event:5")  # re-executed
    record_triage(ledger, KEY, verdict, "dagster-run-2", "reply-9", f"{KEY}:reply:9")  # a new attempt
    triaged = decisions(ledger, DecisionKind.TRIAGE, KEY)
    assert [(e.data["choice"], e.data["context"]["attempt"]) for e in triaged] == [
        ("needs_info", "label-event-5"),
        ("needs_info", "reply-9"),
    ]
    assert triaged[0].data["rationale"] == "vague" and triaged[0].data["candidates"] == ["clear", "needs_info"]


def test_a_run_refused_by_its_budget_is_one_stop_however_often_it_asks(ledger: Ledger) -> None:
    gateway = LLMGateway(ModelSettings(name="openai/none"), ledger, guard=lambda: "the daily budget is spent")
    for _ in range(3):
        with pytest.raises(BudgetExceeded):
            gateway.complete([{"role": "user", "content": "hi"}], KEY, purpose="coding", run_id="run-1")
    assert len(ledger.read(kinds=[Kind.BUDGET_EXCEEDED])) == 3  # each refused call is a fact...
    stops = decisions(ledger, DecisionKind.BUDGET_STOP, KEY)  # ...the run's stop is one decision
    assert [(e.data["choice"], e.data["run_id"]) for e in stops] == [("stop_run", "run-1")]
    assert not ledger.read(kinds=[Kind.LLM_CALL])  # and no model was asked


def test_dispatch_stopped_by_a_spent_budget_is_one_decision_per_period(ledger: Ledger) -> None:
    spent = BudgetStatus("exceeded", "daily", 5.2, 5.0, "the daily budget of $5.00 for octo/shop is spent")
    day = datetime(2026, 6, 15, 9, tzinfo=UTC)
    for hour in range(3):  # every tick of the day sees the same spent budget
        record_budget(ledger, "octo/shop", spent, Notifier(), day + timedelta(hours=hour))
    record_budget(ledger, "octo/shop", spent, Notifier(), day + timedelta(days=1))  # the next day: again spent
    assert choices(ledger, DecisionKind.BUDGET_STOP, "project:octo/shop") == ["stop_dispatch", "stop_dispatch"]


def test_a_gate_paused_and_resumed_twice_is_four_decisions_and_no_more(ledger: Ledger) -> None:
    for _ in range(2):
        assert gates.trip(ledger, "octo/shop", "7-day mean quality 0.2 is below 80 % of the 30-day mean 0.8")
        assert not gates.trip(ledger, "octo/shop", "tripped again while paused")  # already paused: no decision
        assert gates.resume(ledger, "octo/shop", "tester")
        assert not gates.resume(ledger, "octo/shop", "someone else")
    project = "project:octo/shop"
    assert choices(ledger, DecisionKind.GATE_PAUSE, project) == ["pause", "pause"]
    assert choices(ledger, DecisionKind.GATE_RESUME, project) == ["resume", "resume"]
    assert decisions(ledger, DecisionKind.GATE_RESUME, project)[0].data["context"]["by"] == "tester"
