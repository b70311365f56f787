"""The Dagster run tags that Paid's commands, sensors and assets share (no Dagster import: plain names)."""

from __future__ import annotations

from .keys import parse_issue_key

BUILD_JOB = "paid_build"  # the job whose runs are agent runs: the only runs the per-repository limit counts
REPO = "paid/repo"  # the run queue's per-repository limit counts runs by this tag (only build runs carry it)
ISSUE = "paid/issue"
BUILD_OF = "paid/build_of"  # the issue partition a build run works on: the queue lets one run per issue go at once
CAUSE = "paid/cause"  # label, reply, retry, follow_up, manual
STARTED_BY = "paid/started_by"  # who started a manual run
CANCELED_BY = "paid/canceled_by"  # who stopped it (`paid stop` sets it before terminating)
MANUAL = "manual"


def issue_tags(key: str) -> dict[str, str]:
    """The repository and issue of a partition, as tags: every paid_build run carries them (the queue adds them)."""
    repo, number = parse_issue_key(key)
    return {REPO: repo, ISSUE: str(number), BUILD_OF: key}
