"""Label → draft PR in the Docker deployment (`paid deploy up --offline`: the daemon's sensor, a container per
run, a sibling Docker sandbox), p50 and p95 over N issues labeled one after another, against the same loop in
process (loop_bench.in_process: one sensor tick and its run, bubblewrap). BENCH_DEPLOY_ISSUES sets N (5)."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import row

ROOT = Path(__file__).resolve().parents[1]
ISSUES = int(os.environ.get("BENCH_DEPLOY_ISSUES", "5"))


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


def deployed(tmp: Path) -> tuple[list[float], float]:
    import docker
    from paid_standins.forge.seed import SAMPLE_ISSUE_TITLE, SAMPLE_REPO, sample_issue_body

    sys.path.insert(0, str(ROOT))
    from tests.daemon.conftest import free_port
    from tests.deploy.conftest import Running, paid, wait_for

    env = {"PAID_SENSOR_INTERVAL": "1"}
    name = f"paid-b{uuid.uuid4().hex[:6]}"
    running = Running(name, tmp / "state", free_port(), free_port(), "", env, docker.from_env())
    started = time.perf_counter()
    running.up()
    up_seconds = time.perf_counter() - started
    times = []
    try:
        time.sleep(3)  # the first (empty) tick: timing starts from a running sensor
        for i in range(ISSUES):
            number = 1
            if i:
                body = {"title": SAMPLE_ISSUE_TITLE, "body": sample_issue_body()}
                number = int(running.as_user("writer", "POST", f"/repos/{SAMPLE_REPO}/issues", json=body)["number"])
            started = time.perf_counter()
            running.label(number)
            wait_for(
                lambda n=number: any("draft pull request" in c for c in running.comments(n)),  # type: ignore[misc]
                600,
                f"the PR link comment on #{number}",
                interval=0.2,
            )
            times.append(time.perf_counter() - started)
    finally:
        paid("deploy", "down", "--volumes", *running.args)
    return times, up_seconds


def main() -> None:
    print(f"deploy: label → draft PR, {ISSUES} issues one after another (scripted model, zero think time)")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base_p50, base_p95 = percentiles(in_process(tmp))
        row("in process (sensor tick + run, bubblewrap): p50", base_p50, "s")
        row("in process: p95", base_p95, "s")
        times, up_seconds = deployed(tmp)
        p50, p95 = percentiles(times)
        row("`paid deploy up --offline`, images cached", up_seconds, "s")
        row("deployment (1 s sensor, run container, Docker sandbox): p50", p50, "s", base_p50, higher_is_better=False)
        row("deployment: p95", p95, "s", base_p95, higher_is_better=False)


if __name__ == "__main__":
    main()
