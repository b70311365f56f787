"""Dagster's run queue for Paid: the QueuedRunCoordinator, which first tags a build run of an issue's partition
with its repository and issue, so that the limits also count agent runs launched from the UI (which carry no Paid
tags): per repository, and one at a time per issue (two agents on one issue's branch would race). Other jobs on
the same partitions (scoring) are not agent runs and take no slot. Named in dagster.yaml by
`concurrency.run_coordinator`."""

from __future__ import annotations

from dagster import DagsterRun
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext

from .keys import KEY
from .run_tags import BUILD_JOB, issue_tags

PARTITION_TAG = "dagster/partition"


class PaidRunCoordinator(QueuedRunCoordinator):
    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        key = run.tags.get(PARTITION_TAG, "")
        missing = {k: v for k, v in issue_tags(key).items() if k not in run.tags} if KEY.match(key) else {}
        if run.job_name == BUILD_JOB and missing:
            self._instance.add_run_tags(run.run_id, missing)
            tagged = self._instance.get_run_by_id(run.run_id) or run
            context = SubmitRunContext(tagged, context.workspace)
        return super().submit_run(context)
