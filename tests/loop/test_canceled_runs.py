"""Runs canceled where no step could record it (in the queue, between steps): the retry sensor records the
cancel with who did it, tells the issue once, and neither retries it nor takes its gone worker for a crash."""

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
from .test_nothing_lost import configure


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
