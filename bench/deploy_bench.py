"""Label → draft PR in the Docker deployment (`paid deploy up --offline`: the daemon's sensor, a container per
run, a sibling Docker sandbox), p50 and p95 over N issues labeled one after another, against the same loop in
process (loop_bench.in_process: one sensor tick and its run, bubblewrap); then 20 issues labeled at once over 3
repositories (the queue's caps: 4 runs, 2 per repository): runs per minute, label → PR p50/p95, and the most runs
of one repository seen at once. BENCH_DEPLOY_ISSUES sets N (5)."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from paid_standins.dagster_dev import most_at_once

from bench.common import row

ROOT = Path(__file__).resolve().parents[1]
ISSUES = int(os.environ.get("BENCH_DEPLOY_ISSUES", "5"))
AT_ONCE = 20
COPIES = ["octo-org/shopcart-two", "octo-org/shopcart-three"]
MAX_RUNS, PER_REPOSITORY = 4, 2  # the offline deployment's `concurrency:` defaults


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def in_process(tmp: Path) -> list[float]:
    from bench.loop_bench import in_process as one_loop

    times = []
    for i in range(ISSUES):
        (tmp / f"inproc-{i}").mkdir()
        times.append(one_loop(tmp / f"inproc-{i}"))
    return times


def label(running: Any, repo: str, number: int) -> None:
    running.as_user("writer", "POST", f"/repos/{repo}/issues/{number}/labels", json={"labels": ["paid-build"]})


def linked(running: Any, repo: str, number: int) -> bool:
    """The issue has Paid's comment linking its draft PR."""
    comments = running.as_user("writer", "GET", f"/repos/{repo}/issues/{number}/comments")
    return any("draft pull request" in c["body"] for c in comments)


def one_by_one(running: Any, wait_for: Any) -> dict[str, tuple[float, float]]:
    """Per issue's partition key: when it was labeled and when its PR link appeared (Unix times)."""
    from paid_standins.forge.seed import SAMPLE_REPO

    timings = {}
    for i in range(ISSUES):
        number = running.new_issue(SAMPLE_REPO) if i else 1
        labeled = time.time()
        label(running, SAMPLE_REPO, number)
        wait_for(lambda n=number: linked(running, SAMPLE_REPO, n), 600, f"the PR link on #{number}", interval=0.2)
        timings[f"{SAMPLE_REPO.replace('/', '__')}__{number}"] = (labeled, time.time())
    return timings


def phases(running: Any, timings: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
    """Where label → PR goes in the deployment, per issue: the sensor's tick until the run exists, the queue and
    the run container's start (its interpreter importing Dagster, litellm and Paid) until Dagster marks the run
    started, then the steps until the PR link (the host's and the containers' clocks are the same clock)."""
    found: dict[str, list[float]] = {"sensor": [], "queue and run container start": [], "steps to the PR": []}
    for run in running.runs():
        key = run["tags"].get("dagster/partition", "")
        if run["job"] != "paid_build" or key not in timings or run["started"] is None:
            continue
        labeled, linked_at = timings[key]
        found["sensor"].append(run["created"] - labeled)
        found["queue and run container start"].append(run["started"] - run["created"])
        found["steps to the PR"].append(linked_at - run["started"])
    return found


def at_once(running: Any, wait_for: Any, repos: list[str]) -> tuple[list[float], float, dict[str, int]]:
    """20 issues over the repositories labeled together: each one's label → PR link, the whole batch's seconds,
    and per repository the most of these runs in progress at one moment (from Dagster's run records)."""
    issues = [(repos[i % len(repos)], running.new_issue(repos[i % len(repos)])) for i in range(AT_ONCE)]
    labeled = {}
    for repo, number in issues:
        label(running, repo, number)
        labeled[(repo, number)] = time.perf_counter()
    started = min(labeled.values())
    done: dict[tuple[str, int], float] = {}

    def all_linked() -> bool:
        for issue in issues:
            if issue not in done and linked(running, *issue):
                done[issue] = time.perf_counter()
        return len(done) == len(issues)

    wait_for(all_linked, 60 * AT_ONCE, f"{AT_ONCE} PR links", interval=1.0)
    elapsed = max(done.values()) - started
    keys = {f"{repo.replace('/', '__')}__{number}" for repo, number in issues}

    def finished() -> list[dict[str, Any]] | None:
        mine = [r for r in running.runs() if r["job"] == "paid_build" and r["tags"].get("dagster/partition") in keys]
        return mine if len(mine) >= AT_ONCE and all(r["ended"] for r in mine) else None

    records = wait_for(finished, 900, "the runs to end (their review step comes after the PR)", interval=2.0)
    spans = [(r["tags"]["paid/repo"], r["started"], r["ended"]) for r in records if r["started"]]
    return [done[i] - labeled[i] for i in issues], elapsed, most_at_once(spans)


def main() -> None:
    import docker

    sys.path.insert(0, str(ROOT))
    from paid_standins.forge.seed import SAMPLE_REPO

    from tests.daemon.conftest import free_port
    from tests.deploy.conftest import Running, paid, wait_for

    print(f"deploy: label → draft PR, {ISSUES} issues one after another (scripted model, zero think time)")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base_p50, base_p95 = percentiles(in_process(tmp))
        row("in process (sensor tick + run, bubblewrap): p50", base_p50, "s")
        row("in process: p95", base_p95, "s")
        env = {"PAID_SENSOR_INTERVAL": "1"}
        name = f"paid-b{uuid.uuid4().hex[:6]}"
        copies = tuple(arg for repo in COPIES for arg in ("--sample-copy", repo))
        running = Running(name, tmp / "state", free_port(), free_port(), "", env, docker.from_env(), copies)
        started = time.perf_counter()
        running.up()
        row("`paid deploy up --offline`, images cached", time.perf_counter() - started, "s")
        try:
            time.sleep(3)  # the first (empty) tick: timing starts from a running sensor
            timings = one_by_one(running, wait_for)
            p50, p95 = percentiles([linked_at - labeled for labeled, linked_at in timings.values()])
            row(
                "deployment (1 s sensor, run container, Docker sandbox): p50",
                p50,
                "s",
                base_p50,
                higher_is_better=False,
            )
            row("deployment: p95", p95, "s", base_p95, higher_is_better=False)
            for phase, seconds in phases(running, timings).items():
                row(f"  of which {phase}, median", statistics.median(seconds), "s")
            waits, elapsed, most = at_once(running, wait_for, [SAMPLE_REPO, *COPIES])
            p50, p95 = percentiles(waits)
            row(f"deployment: {AT_ONCE} at once over 3 repos, label → PR p50", p50, "s")
            row(f"deployment: {AT_ONCE} at once over 3 repos, label → PR p95", p95, "s")
            row(f"deployment: {AT_ONCE} at once, runs per minute", AT_ONCE * 60 / elapsed, "runs/min")
            print(f"  most runs of one repository at once (limit {PER_REPOSITORY}, {MAX_RUNS} in all): {most}")
        finally:
            paid("deploy", "down", "--volumes", *running.args)


if __name__ == "__main__":
    main()
