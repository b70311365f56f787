"""Nothing lost, nothing twice: labeled issues with GitHub answering 5xx each end with exactly one draft PR, one
link comment and at most one review, or, after the last attempt, one comment and `paid-failed`; a permanent
failure is not retried; a run whose worker died is marked failed and retried."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
import yaml
from dagster import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test
from paid_standins.forge.seed import SAMPLE_ISSUE_TITLE, sample_issue_body
from paid_standins.inprocess import sensor_tick

from paid_dagster.keys import issue_key
from paid_dagster.learning.decisions import DecisionKind
from paid_dagster.ledger import Ledger
from paid_dagster.sensors import paid_retry_sensor

from ..decision_counts import choices, decisions
from .conftest import Loop

MARKER = re.compile(r"<!-- paid:([a-z-]+):([^ ]+) -->")


def configure(loop: Loop, **retries: object) -> None:
    data = yaml.safe_load(loop.stack.config_path.read_text())
    data["retries"] = {"max_attempts": 3, "backoff_seconds": 0, **retries}
    data["first_tick_backlog"] = 50
    loop.stack.config_path.write_text(yaml.safe_dump(data))


def drive(loop: Loop, rounds: int, settled: object) -> list[str]:
    """Label-sensor and retry-sensor ticks in one loop, as the daemon runs them; the retry sensor's notes."""
    cursor, notes = None, []
    for _ in range(rounds):
        cursor = sensor_tick(loop.instance, loop.defs, cursor).cursor
        tick = sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)
        notes.append(tick.skip_reason or f"launched {len(tick.launched)}, failed {len(tick.failed)}")
        if callable(settled) and settled():
            break
    return notes


def issue_bodies(loop: Loop) -> dict[int, list[str]]:
    rows = loop.stack.forge.store.all("SELECT i.number, c.body FROM comments c JOIN issues i ON i.id = c.issue_id")
    out: dict[int, list[str]] = {}
    for row in rows:
        out.setdefault(int(row["number"]), []).append(row["body"] or "")
    return out


SCENARIOS = {
    # A fifth of GitHub's answers are 502s.
    "5xx": {"error_rate": 0.2, "error_status": 502, "seed": 10},
    # Comments and reviews are applied but answered after the client's read timeout (1 s here), and the first
    # requests meet GitHub's secondary rate limit (403 with Retry-After).
    "slow writes and secondary limits": {
        "answer_delay_ms": 1500,
        "path_pattern": r"/(comments|reviews)$",
        "method_pattern": "POST",
        "secondary_rate_limit_next": 5,
    },
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_twenty_issues_with_a_fifth_of_github_answers_failing_end_with_one_pr_or_one_word(
    loop: Loop, scenario: str
) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    configure(loop)
    if scenario != "5xx":
        data = yaml.safe_load(loop.stack.config_path.read_text())
        data["github"]["timeout_seconds"] = 1
        loop.stack.config_path.write_text(yaml.safe_dump(data))
    writer = forge.as_user(seed.writer)
    numbers = [seed.issue_number] + [
        writer.create_issue(seed.repo, SAMPLE_ISSUE_TITLE, sample_issue_body()) for _ in range(19)
    ]
    for number in numbers:
        writer.label(seed.repo, number, "paid-build")
    forge.set_faults(**SCENARIOS[scenario])
    ledger = Ledger(loop.ledger_url)

    def settled() -> bool:
        keys = [issue_key(seed.repo, n) for n in numbers]
        done = {e.stream for e in ledger.iter(kinds=["review.finished", "run.gave_up"])}
        return set(keys) <= done

    started = time.monotonic()
    notes = drive(loop, 12, settled)
    forge.clear_faults()
    elapsed = time.monotonic() - started

    pulls = forge.store.all("SELECT p.head_ref FROM pulls p")
    heads = Counter(int(re.match(r"paid/(\d+)-", p["head_ref"])[1]) for p in pulls)  # type: ignore[index]
    bodies = issue_bodies(loop)
    reviews = forge.store.all("SELECT r.body FROM reviews r")
    review_markers = Counter(m.group(0) for r in reviews for m in [MARKER.search(r["body"] or "")] if m)
    assert all(count == 1 for count in review_markers.values()), review_markers
    silent, failed, published = [], [], []
    for number in numbers:
        markers = Counter(m.group(0) for body in bodies.get(number, []) for m in MARKER.finditer(body))
        assert all(count == 1 for count in markers.values()), (number, markers)  # no duplicate side effect
        kinds = Counter(m.group(1) for body in bodies.get(number, []) for m in MARKER.finditer(body))
        labels = [label.name for label in _labels(loop, number)]
        if heads.get(number) == 1 and kinds["pr-link"] == 1:
            published.append(number)
        elif kinds["failed"] == 1 and "paid-failed" in labels:
            failed.append(number)
        else:
            silent.append((number, dict(kinds), heads.get(number), labels))
        assert heads.get(number, 0) <= 1
    assert silent == [], (silent, notes)
    assert len(published) + len(failed) == 20
    retried = ledger.read(kinds=["retry.scheduled"])
    print(
        f"20 issues, {scenario}: {len(published)} PRs, {len(failed)} gave up, {len(retried)} retries, {elapsed:.0f} s"
    )


def _labels(loop: Loop, number: int) -> list[object]:
    from paid_dagster.config import load_config
    from paid_dagster.github.client import GitHubClient

    forge, seed = loop.stack.forge, loop.stack.seed
    client = GitHubClient(load_config(loop.stack.config_path).github, forge.token(seed.writer))
    return list(client.repo(seed.repo).get_issue(number).get_labels())


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_permanent_failure_is_not_retried_and_the_issue_is_told(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    configure(loop)
    forge.as_user(seed.writer).label(seed.repo, seed.issue_number, "paid-build")
    forge.set_faults(error_rate=1.0, error_status=422, path_pattern=r"/pulls$", method_pattern="POST")
    drive(loop, 1, None)
    forge.clear_faults()
    tick = sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)
    ledger = Ledger(loop.ledger_url)
    failed = ledger.read(kinds=["run.failed"])
    assert [(e.data["stage"], e.data["transient"]) for e in failed] == [("pull_request", False)]
    assert not ledger.read(kinds=["retry.scheduled"]) and len(ledger.read(kinds=["run.gave_up"])) == 1
    comments = [b for b in issue_bodies(loop).get(seed.issue_number, []) if "paid:failed:" in b]
    assert len(comments) == 1 and "`pull_request` step failed" in comments[0] and "relabel" in comments[0]
    assert "paid-failed" in [label.name for label in _labels(loop, seed.issue_number)]  # type: ignore[attr-defined]
    assert tick.skip_reason is not None
    sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)  # nothing left to decide
    gave_up = decisions(ledger, DecisionKind.RETRY)
    assert [(e.data["choice"], e.data["context"]["transient"]) for e in gave_up] == [("give_up", False)]


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_run_whose_worker_died_is_marked_failed_recorded_as_crashed_and_retried(loop: Loop) -> None:
    seed = loop.stack.seed
    configure(loop)
    key = issue_key(seed.repo, seed.issue_number)
    loop.instance.add_dynamic_partitions("paid_issues", [key])
    tags = {
        "dagster/partition": key,
        "dagster/run_key": f"{key}:label:1",
        "paid/worker_pid": "999999",
        "paid/worker_host": __import__("socket").gethostname(),
        "paid/worker_started": "1",
        "paid/repo": seed.repo,
        "paid/issue": str(seed.issue_number),
    }
    run = create_run_for_test(loop.instance, job_name="paid_build", status=DagsterRunStatus.STARTED, tags=tags)
    tick = sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)
    assert loop.instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE  # type: ignore[union-attr]
    ledger = Ledger(loop.ledger_url)
    finished = ledger.read(stream=key, kinds=["run.finished"])
    assert [e.data["outcome"] for e in finished][:1] == ["crashed"]
    assert [e.data["attempt"] for e in ledger.read(stream=key, kinds=["retry.scheduled"])] == [2]
    assert tick.run_keys == [f"{key}:label:1:attempt:2"] and len(tick.launched) == 1
    retry = loop.instance.get_run_by_id(tick.launched[0])
    assert retry is not None and retry.tags["paid/attempt"] == "2" and retry.tags["paid/retry_of"] == run.run_id
    assert choices(ledger, DecisionKind.RETRY, key) == ["retry"]


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_failure_waiting_for_its_backoff_is_one_wait_decision_however_many_ticks(loop: Loop) -> None:
    from paid_dagster.retries import Failure, record_failure

    configure(loop, backoff_seconds=3600)
    key = issue_key(loop.stack.seed.repo, loop.stack.seed.issue_number)
    ledger = Ledger(loop.ledger_url)
    failure = Failure("agent_run", True, "APITimeoutError", "the model timed out")
    record_failure(ledger, key, failure, "run-that-timed-out", 1, f"{key}:label-event:1")
    for _ in range(3):
        tick = sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)
        assert not tick.run_keys and "in 3" in (tick.skip_reason or "")
    waits = decisions(ledger, DecisionKind.RETRY, key)
    assert [(e.data["choice"], e.data["context"]["attempt"], e.data["run_id"]) for e in waits] == [
        ("wait", 1, "run-that-timed-out")
    ]


def failed_by_monitoring(loop: Loop, key: str, run_key: str) -> str:
    """A build run as the deployment leaves it when its container dies: STARTED on another host (the worker tags
    cannot tell), then failed by Dagster's run monitoring, with no `run.failed` from any step."""
    loop.instance.add_dynamic_partitions("paid_issues", [key])
    tags = {
        "dagster/partition": key,
        "dagster/run_key": run_key,
        "paid/worker_pid": "1",
        "paid/worker_host": "a-run-container-that-is-gone",
    }
    run = create_run_for_test(loop.instance, job_name="paid_build", status=DagsterRunStatus.STARTED, tags=tags)
    loop.instance.report_run_failed(run, "Run worker container exited: Exit code: 137, OOMKilled: False")
    return run.run_id


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_run_failed_by_run_monitoring_is_recorded_once_and_retried(loop: Loop) -> None:
    configure(loop)
    key = issue_key(loop.stack.seed.repo, loop.stack.seed.issue_number)
    run_id = failed_by_monitoring(loop, key, f"{key}:label-event:7")
    ticks = [sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor) for _ in range(2)]
    ledger = Ledger(loop.ledger_url)
    failed = ledger.read(stream=key, kinds=["run.failed"])
    assert [(e.data["stage"], e.data["transient"], e.data["dagster_run_id"]) for e in failed] == [
        ("worker", True, run_id)
    ]
    assert "Exit code: 137" in failed[0].data["error"]  # what Dagster said, for the person reading the issue
    finished = [e.data["outcome"] for e in ledger.read(stream=key, kinds=["run.finished"])]
    assert finished[:1] == ["crashed"] and finished.count("crashed") == 1  # then the retry's own end
    assert ticks[0].run_keys == [f"{key}:label-event:7:attempt:2"] and ticks[1].run_keys == []
    retry = loop.instance.get_run_by_id(ticks[0].launched[0])
    assert retry is not None and retry.tags["paid/retry_of"] == run_id


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_failure_followed_by_a_new_label_is_not_retried_beside_it(loop: Loop) -> None:
    configure(loop)
    key = issue_key(loop.stack.seed.repo, loop.stack.seed.issue_number)
    run_id = failed_by_monitoring(loop, key, f"{key}:label-event:7")
    ledger = Ledger(loop.ledger_url)
    ledger.append(key, "issue.labeled", {"repo": loop.stack.seed.repo, "label_event_id": 8, "cause": "label"})
    sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)  # records the failure, sees the label
    for _ in range(2):
        tick = sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)
        assert tick.run_keys == []
    assert ledger.read(stream=key, kinds=["retry.scheduled", "run.gave_up"]) == []
    assert choices(ledger, DecisionKind.RETRY, key) == ["superseded"]
    assert [e.data["run_id"] for e in decisions(ledger, DecisionKind.RETRY, key)] == [run_id]
