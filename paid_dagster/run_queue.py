"""Dagster's run queue for Paid: the QueuedRunCoordinator, which first tags a build run of an issue's partition
with its repository, so that the per-repository limit also counts agent runs launched from the UI (which carry no
Paid tags). Other jobs on the same partitions (scoring) are not agent runs and take no repository slot. Named in
dagster.yaml by `concurrency.run_coordinator`."""

from __future__ import annotations

from dagster import DagsterRun
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext

from .keys import KEY
from .run_tags import BUILD_JOB, REPO, issue_tags

PARTITION_TAG = "dagster/partition"


class PaidRunCoordinator(QueuedRunCoordinator):
    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        key = run.tags.get(PARTITION_TAG, "")
        if run.job_name == BUILD_JOB and REPO not in run.tags and KEY.match(key):
            self._instance.add_run_tags(run.run_id, issue_tags(key))
            tagged = self._instance.get_run_by_id(run.run_id) or run
            context = SubmitRunContext(tagged, context.workspace)
        return super().submit_run(context)
