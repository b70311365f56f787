"""Runs canceled where no step could record it (in the queue, between steps, as the run started): the retry
sensor records the cancel with who did it, tells the issue once, and neither retries it nor takes its gone worker
for a crash, also when Dagster ended the stopped run as a failure."""

from __future__ import annotations

import socket

import pytest
from dagster import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test
from paid_standins.inprocess import sensor_tick

from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger
from paid_dagster.sensors import paid_retry_sensor

from .conftest import Loop
from .test_nothing_lost import configure, issue_bodies


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
def test_a_run_canceled_in_the_queue_is_recorded_told_once_and_never_retried(loop: Loop) -> None:
    seed, forge = loop.stack.seed, loop.stack.forge
    configure(loop)
    key = issue_key(seed.repo, seed.issue_number)
    loop.instance.add_dynamic_partitions("paid_issues", [key])
    tags = {
        "dagster/partition": key,
        "dagster/run_key": f"{key}:label:1",
        "paid/canceled_by": "carol",
        # The worker of a run that was canceled is gone too: that is no crash.
        "paid/worker_pid": "999999",
        "paid/worker_host": socket.gethostname(),
        "paid/worker_started": "1",
    }
    run = create_run_for_test(loop.instance, job_name="paid_build", status=DagsterRunStatus.CANCELED, tags=tags)
    for _ in range(3):
        tick = sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)
        assert tick.launched == [] and tick.run_keys == []
    ledger = Ledger(loop.ledger_url)
    finished = [e.data for e in ledger.read(stream=key, kinds=["run.finished"])]
    assert [(d["outcome"], d["canceled_by"], d["stage"], d["dagster_run_id"]) for d in finished] == [
        ("canceled", "carol", "the queue", run.run_id)
    ]
    kinds = [e.kind for e in ledger.read(stream=key)]
    assert "run.failed" not in kinds and "retry.scheduled" not in kinds and "run.gave_up" not in kinds
    issue = forge.service.find_issue(forge.repo(seed.repo), seed.issue_number)
    bodies = [r["body"] for r in forge.store.all("SELECT body FROM comments WHERE issue_id = ?", issue["id"])]
    told = [b for b in bodies if f"<!-- paid:canceled:{run.run_id} -->" in b]
    assert len(told) == 1 and "carol stopped this run" in told[0]
    assert loop.instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED  # type: ignore[union-attr]


@pytest.mark.parametrize("loop", ["sqlite"], indirect=True)
@pytest.mark.parametrize("how", ["terminate", "paid stop"])
def test_a_stop_that_dagster_ended_as_a_failure_is_a_cancel_and_never_retried(loop: Loop, how: str) -> None:
    """A terminate that lands as the run starts: the run's start event turns CANCELING back into STARTED, the
    interruption then ends it FAILURE ("interrupted unexpectedly"), and no step recorded anything."""
    configure(loop)
    seed = loop.stack.seed
    key = issue_key(seed.repo, seed.issue_number)
    loop.instance.add_dynamic_partitions("paid_issues", [key])
    tags = {"dagster/partition": key, "dagster/run_key": f"{key}:label-event:7"}
    if how == "paid stop":
        tags["paid/canceled_by"] = "mona"
    run = create_run_for_test(loop.instance, job_name="paid_build", status=DagsterRunStatus.STARTED, tags=tags)
    if how == "terminate":
        loop.instance.report_run_canceling(run)
    loop.instance.report_run_failed(run, "Execution was interrupted unexpectedly.")
    for _ in range(3):
        tick = sensor_tick(loop.instance, loop.defs, None, sensor=paid_retry_sensor)
        assert tick.run_keys == []
    ledger = Ledger(loop.ledger_url)
    assert ledger.read(stream=key, kinds=["run.failed", "retry.scheduled", "run.gave_up"]) == []
    finished = [e.data for e in ledger.read(stream=key, kinds=["run.finished"])]
    assert [(f["outcome"], f["stage"]) for f in finished] == [("canceled", "the run's start")]
    assert finished[0]["canceled_by"] == ("mona" if how == "paid stop" else "Dagster UI")
    told = [b for b in issue_bodies(loop)[seed.issue_number] if f"<!-- paid:canceled:{run.run_id} -->" in b]
    assert len(told) == 1
