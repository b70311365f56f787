"""Dagster's run queue for Paid: the QueuedRunCoordinator, which first tags a run of an issue's partition with
its repository, so that the per-repository limit also counts runs launched from the UI (which carry no Paid
tags). Named in dagster.yaml by `concurrency.run_coordinator`."""

from __future__ import annotations

from dagster import DagsterRun
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext

from .keys import KEY
from .run_tags import REPO, issue_tags

PARTITION_TAG = "dagster/partition"


class PaidRunCoordinator(QueuedRunCoordinator):
    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        key = run.tags.get(PARTITION_TAG, "")
        if REPO not in run.tags and KEY.match(key):
            self._instance.add_run_tags(run.run_id, issue_tags(key))
            tagged = self._instance.get_run_by_id(run.run_id) or run
            context = SubmitRunContext(tagged, context.workspace)
        return super().submit_run(context)
