"""Stopping a run, below Dagster: an interruption of the agent's process (what Dagster raises when a run is
terminated) ends the sandbox's command at once, in bubblewrap and in Docker; what is recorded is recorded once,
a canceled run is never published and never retried; and who started a run by hand is told apart from a sensor's
run, a retry or a backfill."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paid_dagster.agent.outcome import RunOutcome
from paid_dagster.agent.run import AgentRunResult
from paid_dagster.cancel import is_canceled, record_canceled
from paid_dagster.github.publish import publish_run, tell_canceled
from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger
from paid_dagster.retries import Failure, record_failure, undecided
from paid_dagster.triggers import manual_start, record_manual_start

from ..agent.harness import SUBMIT, bash, harness

BOUND_SECONDS = 5  # interruption → no process of the command left


def processes(argv: list[bytes]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().split(b"\0")[: len(argv)] == argv:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def interrupt_when(argv: list[bytes], interrupted: list[float]) -> threading.Thread:
    """Interrupts the process once the command runs, as Dagster's termination thread does (a SIGINT to its own
    process, which Linux hands to the main thread: a blocking read there is interrupted too)."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not processes(argv):
            time.sleep(0.1)
        interrupted.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("sandbox", ["bubblewrap", "docker"])
def test_an_interrupted_run_leaves_no_sandbox_and_nothing_to_publish(tmp_path: Path, sandbox: str) -> None:
    seconds = "321" if sandbox == "bubblewrap" else "322"
    argv = [b"sleep", seconds.encode()]
    script = {"conversations": [{"match": ".*", "turns": [bash("ls"), bash(f"sleep {seconds}"), SUBMIT]}]}
    with harness(tmp_path, script, sandbox=sandbox, checks=False) as h:
        interrupted: list[float] = []
        watcher = interrupt_when(argv, interrupted)
        # Python's own SIGINT handler, as in a run's process. This process may have been started with SIGINT ignored
        # (a background job of a non-interactive shell is), and then Python installs no handler for it.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            with pytest.raises(KeyboardInterrupt):
                h.run(attempt={"dagster_run_id": "dagster-run-1"})
        finally:
            signal.signal(signal.SIGINT, previous)
        gone_after = time.monotonic() - interrupted[0]
        deadline = time.monotonic() + BOUND_SECONDS
        while processes(argv) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not processes(argv), f"the sandbox's command outlived the interruption by {BOUND_SECONDS} s"
        watcher.join(timeout=5)
        print(f"{sandbox}: interrupted → run_agent returned in {gone_after:.1f} s")
        key = issue_key(h.seed.repo, 1)
        started = h.ledger.read(stream=key, kinds=["run.started"])
        assert len(started) == 1
        # Nothing was recorded as an error of Paid's, and nothing left the machine.
        assert h.ledger.read(stream=key, kinds=["run.finished", "run.failed"]) == []
        # What the adapter does next: the cancel recorded, the issue told once, and publishing refused.
        canceled = record_canceled(h.ledger, key, "dagster-run-1", "bob", "agent_run")
        assert canceled.run_id == started[0].data["run_id"]
        assert tell_canceled(h.client, h.ledger, canceled) is True
        assert tell_canceled(h.client, h.ledger, canceled) is False
        comments = [c for c in h.issue_comments() if "<!-- paid:canceled:dagster-run-1 -->" in c]
        assert len(comments) == 1 and "bob stopped this run" in comments[0]
        mark = h.forge.request_mark()
        published = publish_run(h.client, h.ledger, stored_result(canceled.run_id, h.seed.repo), "Fix", "token")
        assert published.outcome == RunOutcome.CANCELED and published.pull is None
        assert h.forge.requests(mark) == [], "publishing a canceled run talked to GitHub"


def stored_result(run_id: str, repo: str) -> AgentRunResult:
    """The agent's result as Dagster stored it: commits to push, were the run not canceled."""
    return AgentRunResult(
        run_id=run_id, repo=repo, number=1, branch="paid/1-x", base="main", outcome=RunOutcome.COMPLETED,
        engine="mini-swe-agent", sandbox="bubblewrap", model="m", turns=2, llm_calls=2, tokens_in=1, tokens_out=1,
        cost_usd=0.0, duration_s=1.0, head_sha="0" * 40, commits_ahead=1, files_changed=1, insertions=1,
        deletions=0, diff_stat="", prompt_template_hash="", prompt_hash="", summary="", worktree="/nonexistent/repo",
    )  # fmt: skip


def test_a_cancel_is_recorded_once_and_never_retried(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    key = issue_key("octo/shop", 7)
    ledger.append(key, "run.started", {"run_id": "agent-1", "dagster_run_id": "d-1"})
    for _ in range(2):  # the adapter, then the sensor's look: once
        record_canceled(ledger, key, "d-1", "", "agent_run")
    finished = ledger.read(stream=key, kinds=["run.finished"])
    assert [(e.data["outcome"], e.data["canceled_by"], e.data["run_id"]) for e in finished] == [
        ("canceled", "Dagster UI", "agent-1")
    ]
    decisions = [e.data for e in ledger.read(stream=key, kinds=["decision.made"])]
    assert [(d["decision"], d["choice"]) for d in decisions] == [("cancel", "cancel")]
    assert is_canceled(ledger, key, "agent-1") and is_canceled(ledger, key, "d-1")
    assert not is_canceled(ledger, key, "agent-2")
    # A failure recorded on the way out of a canceled run (a step that caught the interruption as an error) is not
    # handed to the retry policy; another run's transient failure is.
    record_failure(ledger, key, Failure("agent_run", True, "Timeout", "late"), "d-1", 1, "label:1")
    record_failure(ledger, key, Failure("agent_run", True, "Timeout", "late"), "d-2", 1, "label:2")
    assert [e.data["dagster_run_id"] for e in undecided(ledger)] == ["d-2"]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"paid/cause": "manual", "paid/started_by": "alice"}, ("alice", "cli")),
        ({"dagster/partition": "o__r__1"}, ("Dagster UI", "ui")),  # a launch from the UI: no tag of Paid's
        ({"paid/cause": "label", "dagster/run_key": "o/r#1:label:9"}, None),
        ({"paid/cause": "retry", "paid/attempt": "2"}, None),
        ({"dagster/backfill": "abcdefgh"}, None),  # a backfill re-derives; it is nobody's new attempt
        ({"dagster/run_key": "x"}, None),
    ],
)
def test_who_started_a_run_by_hand(tags: dict[str, str], expected: tuple[str, str] | None) -> None:
    start = manual_start(tags)
    assert (None if start is None else (start.by, start.via)) == expected


def test_a_manual_start_is_recorded_once_as_the_trigger(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    key = issue_key("octo/shop", 3)
    start = manual_start({"paid/cause": "manual", "paid/started_by": "alice"})
    assert start is not None
    for _ in range(2):  # a re-materialization of github_issue in the same run adds nothing
        record_manual_start(ledger, key, start, "d-9")
    requested = ledger.read(stream=key, kinds=["run.requested"])
    assert [(e.data["repo"], e.data["number"], e.data["by"], e.data["via"]) for e in requested] == [
        ("octo/shop", 3, "alice", "cli")
    ]
    assert requested[0].at <= datetime.now(UTC)
    triggers = [e.data for e in ledger.read(stream=key, kinds=["decision.made"]) if e.data["decision"] == "trigger"]
    assert len(triggers) == 1 and triggers[0]["context"]["by"] == "alice"
    assert start.attempt("d-9") != start.attempt("d-10")  # each start is an attempt of its own for triage


def test_a_termination_during_a_model_call_is_not_retried(tmp_path: Path) -> None:
    """mini-swe-agent retries a failed model call with backoff (4 s and more); Dagster's interruption must end it
    at once instead."""
    from dagster import DagsterExecutionInterruptedError

    from paid_dagster.agent.engine import GatewayModel
    from paid_dagster.config import parse_config
    from paid_dagster.llm import LLMGateway

    config = parse_config({"repositories": [{"name": "octo/shop"}], "model": {"name": "openai/scripted"}})
    calls: list[float] = []

    class Interrupted(GatewayModel):
        def _query(self, messages: list[dict[str, str]], **kwargs: object) -> object:
            calls.append(time.monotonic())
            raise DagsterExecutionInterruptedError()

    model = Interrupted(LLMGateway(config.model, Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}")), "o__r__1", "run-1")
    started = time.monotonic()
    with pytest.raises(DagsterExecutionInterruptedError):
        model.query([{"role": "user", "content": "hello"}])
    assert len(calls) == 1 and time.monotonic() - started < 2
