"""`paid run owner/repo#N` starts an issue's build by hand; `paid stop owner/repo#N` stops its run in progress.

Both go the way the Dagster UI goes, so that a run started or stopped here is the same as one started or stopped
there: `run` launches the issue's partition of `paid_build` through the webserver's GraphQL API (adding the
partition if needed), tagged `paid/cause: manual` and `paid/started_by`; `github_issue` records it as the trigger.
`stop` tags the run with who stops it and asks the instance's run coordinator to cancel it, which terminates a
started run through its code server exactly as the UI's Terminate does.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import time
from typing import Any

import requests

from ..keys import issue_key
from ..run_tags import CANCELED_BY, CAUSE, MANUAL, STARTED_BY, issue_tags

JOB = "paid_build"
PARTITIONS = "paid_issues"
IN_PROGRESS = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
ISSUE_REF = re.compile(r"^(?P<repo>[A-Za-z0-9-]+/[A-Za-z0-9_.-]+)#(?P<number>\d+)$")


class OperateError(RuntimeError):
    pass


def parse_issue(text: str) -> str:
    """`owner/repo#N` → the issue's partition key."""
    match = ISSUE_REF.match(text.strip())
    if not match:
        raise OperateError(f"{text!r} is not an issue: write owner/repo#N")
    return issue_key(match["repo"], int(match["number"]))


def who(given: str | None) -> str:
    return given or os.environ.get("USER") or getpass.getuser()


def selector(location: str, repository: str) -> dict[str, str]:
    return {"repositoryLocationName": location, "repositoryName": repository}


class Webserver:
    """The Dagster webserver's GraphQL API, as the UI uses it."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/graphql"

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            reply = requests.post(self.url, json={"query": text, "variables": variables or {}}, timeout=60)
        except requests.RequestException as exc:
            raise OperateError(
                f"cannot reach Dagster at {self.url} ({exc}): is `paid ui` (or dagster) running?"
            ) from exc
        body = reply.json()
        if reply.status_code != 200 or body.get("errors"):
            raise OperateError(f"Dagster refused: {body.get('errors') or reply.text[:500]}")
        return dict(body["data"])

    def job_location(self) -> tuple[str, str]:
        """The code location and repository that hold paid_build."""
        data = self.query(
            "{ repositoriesOrError { __typename ... on RepositoryConnection"
            " { nodes { name location { name } jobs { name } } } } }"
        )
        for node in data["repositoriesOrError"].get("nodes", []):
            if any(job["name"] == JOB for job in node["jobs"]):
                return node["location"]["name"], node["name"]
        raise OperateError(f"no code location of this Dagster has the job {JOB}: is it Paid's?")

    def runs_in_progress(self, key: str) -> list[dict[str, Any]]:
        data = self.query(
            'query($key: String!, $statuses: [RunStatus!]) { runsOrError(filter: {tags: [{key: "dagster/partition",'
            " value: $key}], statuses: $statuses}) { __typename ... on Runs { results { runId status jobName } } } }",
            {"key": key, "statuses": list(IN_PROGRESS)},
        )
        return list(data["runsOrError"].get("results", []))

    def add_partition(self, location: str, repository: str, key: str) -> None:
        data = self.query(
            "mutation($selector: RepositorySelector!, $name: String!, $key: String!) { addDynamicPartition("
            "repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) { __typename"
            " ... on PythonError { message } ... on UnauthorizedError { message } } }",
            {
                "selector": {"repositoryLocationName": location, "repositoryName": repository},
                "name": PARTITIONS,
                "key": key,
            },
        )
        kind = data["addDynamicPartition"]["__typename"]
        if kind not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            raise OperateError(f"adding the partition {key} failed: {data['addDynamicPartition']}")

    def launch(self, location: str, repository: str, tags: dict[str, str]) -> str:
        params = {
            "selector": {**selector(location, repository), "jobName": JOB},
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        data = self.query(
            "mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename"
            " ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }"
            " ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }",
            {"params": params},
        )
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise OperateError(f"Dagster did not launch the run: {result}")
        return str(result["run"]["runId"])


def start_by_hand(url: str, key: str, by: str) -> str:
    """The issue's partition launched as one run of paid_build, tagged as started by hand by `by`."""
    webserver = Webserver(url)
    running = webserver.runs_in_progress(key)
    if running:
        ids = ", ".join(f"{r['runId'][:8]} ({r['status'].lower()})" for r in running)
        raise OperateError(f"{key} already has a run in progress: {ids}; `paid stop` it first")
    location, repository = webserver.job_location()
    webserver.add_partition(location, repository, key)
    tags = {"dagster/partition": key, CAUSE: MANUAL, STARTED_BY: by, **issue_tags(key)}
    return webserver.launch(location, repository, tags)


def stop_runs(key: str, by: str, wait_seconds: float) -> list[tuple[str, str]]:
    """Every run of the issue in progress: tagged with who stops it, canceled through the instance's run
    coordinator (a queued run leaves the queue; a started one is terminated as the UI does); waits for them."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    instance = DagsterInstance.get()
    statuses = [DagsterRunStatus(status) for status in IN_PROGRESS]
    runs = instance.get_runs(RunsFilter(tags={"dagster/partition": key}, statuses=statuses))
    for run in runs:
        instance.add_run_tags(run.run_id, {CANCELED_BY: by})
        instance.run_coordinator.cancel_run(run.run_id)
    deadline = time.monotonic() + wait_seconds
    while True:
        now = [instance.get_run_by_id(run.run_id) for run in runs]
        if all(r is None or r.is_finished for r in now) or time.monotonic() > deadline:
            return [(run.run_id, r.status.value if r else "gone") for run, r in zip(runs, now, strict=True)]
        time.sleep(0.5)


def cmd_run(args: argparse.Namespace) -> int:
    try:
        run_id = start_by_hand(args.dagster_url, parse_issue(args.issue), who(args.by))
    except OperateError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"started run {run_id}: {args.dagster_url.rstrip('/')}/runs/{run_id}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    try:
        key = parse_issue(args.issue)
    except OperateError as exc:
        print(exc, file=sys.stderr)
        return 1
    stopped = stop_runs(key, who(args.by), args.wait)
    if not stopped:
        print(f"{args.issue} has no run in progress")
        return 1
    for run_id, status in stopped:
        print(f"run {run_id}: {status.lower()}")
    return 0 if all(status == "CANCELED" for _, status in stopped) else 2


def register(subparsers: Any) -> None:
    url = os.environ.get("PAID_DAGSTER_URL", "http://127.0.0.1:3000")
    run = subparsers.add_parser("run", help="start an issue's build by hand (recorded as its trigger, with who)")
    run.add_argument("issue", help="owner/repo#N")
    run.add_argument("--by", default=None, help="who starts it (default: $USER)")
    run.add_argument("--dagster-url", default=url, help="the Dagster webserver (default: $PAID_DAGSTER_URL or :3000)")
    run.set_defaults(func=cmd_run)
    stop = subparsers.add_parser("stop", help="stop an issue's run in progress, as Terminate in the UI does")
    stop.add_argument("issue", help="owner/repo#N")
    stop.add_argument("--by", default=None, help="who stops it (default: $USER)")
    stop.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the run to end")
    stop.set_defaults(func=cmd_stop)
