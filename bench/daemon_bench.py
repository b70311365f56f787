"""Label → draft PR under a real `dagster dev` (daemon, queue, code server; scripted model, bubblewrap) against
the same loop in process, measured in the same run: p50/p95 of issues labeled one after another, then 20 issues
labeled at once across 3 repositories (the queue's caps: 4 runs, 2 per repository) for runs per minute and the
most runs of one repository seen at once."""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, RunsFilter
from paid_standins.dagster_dev import (
    DagsterDev,
    add_sample_repositories,
    configure,
    dagster_dev,
    most_at_once,
    wait_until,
)
from paid_standins.forge.seed import SAMPLE_ISSUE_TITLE, sample_issue_body
from paid_standins.stack import start_stack

from bench.common import row
from bench.loop_bench import in_process
from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger

SEQUENTIAL = 5
AT_ONCE = 20
MAX_RUNS, PER_REPOSITORY = 4, 2
REPOS = ["octo-org/shopcart-two", "octo-org/shopcart-three"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def label_and_wait(dev: DagsterDev, issues: list[tuple[str, int]]) -> dict[str, float]:
    """Labels the issues now; seconds from each label to its pr.opened in the ledger."""
    return {key: (opened - labeled).total_seconds() for key, (labeled, opened) in label_and_open(dev, issues).items()}


def label_and_open(dev: DagsterDev, issues: list[tuple[str, int]]) -> dict[str, tuple[datetime, datetime]]:
    """Labels the issues now; each one's label time and its pr.opened time in the ledger."""
    seed, forge = dev.stack.seed, dev.stack.forge
    labeled: dict[str, datetime] = {}
    for repo, number in issues:
        forge.as_user(seed.writer).label(repo, number, "paid-build")
        labeled[issue_key(repo, number)] = datetime.now(UTC)
    ledger = Ledger(dev.ledger_url)

    def opened() -> dict[str, datetime]:  # empty (falsy) until every issue has its PR
        found = {e.stream: e.at for e in ledger.read(kinds=["pr.opened"]) if e.stream in labeled}
        return found if len(found) == len(labeled) else {}

    found = wait_until(opened, 60 + 60 * len(issues), interval=0.2, what="the pull requests")
    return {key: (labeled[key], found[key]) for key in labeled}


def phases(dev: DagsterDev, timings: dict[str, tuple[datetime, datetime]]) -> dict[str, list[float]]:
    """Where label → PR goes under the daemon, per issue: the sensor's tick until the run exists, the queue and
    the run process's start (a fresh interpreter importing Dagster, litellm and Paid) until Dagster marks it
    started, then the steps until the PR is recorded."""
    import os

    os.environ["DAGSTER_HOME"] = str(dev.home)
    instance = DagsterInstance.get()
    found: dict[str, list[float]] = {"sensor": [], "queue and process start": [], "steps to the PR": []}
    for record in instance.get_run_records(RunsFilter(job_name="paid_build")):
        key = record.dagster_run.tags.get("dagster/partition", "")
        if key not in timings or record.start_time is None:
            continue
        labeled, opened = timings[key]
        created, started = record.create_timestamp.timestamp(), record.start_time
        found["sensor"].append(created - labeled.timestamp())
        found["queue and process start"].append(started - created)
        found["steps to the PR"].append(opened.timestamp() - started)
    return found


def new_issues(dev: DagsterDev, repos: list[str], count: int) -> list[tuple[str, int]]:
    seed, forge = dev.stack.seed, dev.stack.forge
    author = forge.as_user(seed.outsider)
    chosen = [repos[i % len(repos)] for i in range(count)]
    return [(repo, author.create_issue(repo, SAMPLE_ISSUE_TITLE, sample_issue_body())) for repo in chosen]


def peak_per_repository(dev: DagsterDev, keys: set[str]) -> dict[str, int]:
    """Per repository, the most runs of these issues that were in progress at one moment (Dagster's records)."""
    import os

    os.environ["DAGSTER_HOME"] = str(dev.home)
    instance = DagsterInstance.get()

    def finished() -> list[Any]:  # empty (falsy) until every run has ended
        records = instance.get_run_records(RunsFilter(job_name="paid_build"))
        mine = [r for r in records if r.dagster_run.tags.get("dagster/partition") in keys]
        return mine if mine and all(r.dagster_run.is_finished for r in mine) else []

    records = wait_until(finished, 600, what="the runs to finish (their review step ends after the PR)")
    return most_at_once(
        [
            (r.dagster_run.tags["paid/repo"], r.start_time, r.end_time)
            for r in records
            if r.dagster_run.tags.get("dagster/partition") in keys and r.start_time and r.end_time
        ]
    )


def main() -> None:
    print("daemon: label → draft PR under dagster dev vs in process (scripted model, bubblewrap)")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        baseline = in_process(tmp)
        row("in process: one issue, label → PR (baseline)", baseline, "s")
        stack = start_stack(tmp / "daemon", sandbox="bubblewrap")
        configure(stack, concurrency={"max_runs": MAX_RUNS, "per_repository": PER_REPOSITORY})
        repos = add_sample_repositories(stack, REPOS)
        try:
            with dagster_dev(tmp / "dev", stack, sensor_interval=1) as dev:
                time.sleep(3)  # the first (empty) sensor tick
                timings: dict[str, tuple[datetime, datetime]] = {}
                for _ in range(SEQUENTIAL):
                    timings.update(label_and_open(dev, new_issues(dev, repos[:1], 1)))
                one_by_one = [(opened - labeled).total_seconds() for labeled, opened in timings.values()]
                p50 = statistics.median(one_by_one)
                row(f"dagster dev: {SEQUENTIAL} issues one by one, p50", p50, "s", baseline, higher_is_better=False)
                row(f"dagster dev: {SEQUENTIAL} issues one by one, p95", percentile(one_by_one, 0.95), "s")
                for phase, seconds in phases(dev, timings).items():
                    row(f"  of which {phase}, median", statistics.median(seconds), "s")
                issues = new_issues(dev, repos, AT_ONCE)
                started = time.monotonic()
                times = label_and_wait(dev, issues)
                elapsed = time.monotonic() - started
                waits = list(times.values())
                row(f"dagster dev: {AT_ONCE} at once over 3 repos, label → PR p50", statistics.median(waits), "s")
                row(f"dagster dev: {AT_ONCE} at once over 3 repos, label → PR p95", percentile(waits, 0.95), "s")
                row(f"dagster dev: {AT_ONCE} at once, runs per minute", AT_ONCE * 60 / elapsed, "runs/min")
                most = peak_per_repository(dev, set(times))
                print(f"  most runs of one repository at once (limit {PER_REPOSITORY}): {most}")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
