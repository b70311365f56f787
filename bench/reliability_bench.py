"""Nothing lost under faults: issues per minute and label → PR time at 0 %, 5 % and 20 % injected GitHub 5xx, and
the share of GitHub requests the faults cost (requests beyond those of the fault-free run of the same work).

Each rate runs the same workload from scratch: N labeled issues on the forge, the label sensor and the retry
sensor ticked in one loop as the daemon does, until every issue has its review or has been given up on.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from dagster import instance_for_test
from paid_standins.forge.seed import SAMPLE_ISSUE_TITLE, sample_issue_body
from paid_standins.stack import start_stack

from bench.common import row

ISSUES = int(os.environ.get("BENCH_RELIABILITY_ISSUES", "10"))
RATES = (0.0, 0.05, 0.2)


def one_rate(tmp: Path, rate: float) -> dict[str, float]:
    from paid_standins.inprocess import sensor_tick

    from paid_dagster.keys import issue_key
    from paid_dagster.ledger import Ledger
    from paid_dagster.ledger.kinds import Kind
    from paid_dagster.ledger.store import _ENGINES
    from paid_dagster.sensors import paid_retry_sensor

    stack = start_stack(tmp / "stack", sandbox="bubblewrap")
    data = yaml.safe_load(stack.config_path.read_text())
    data["retries"] = {"max_attempts": 3, "backoff_seconds": 0}
    data["first_tick_backlog"] = ISSUES + 5
    stack.config_path.write_text(yaml.safe_dump(data))
    ledger_url = f"sqlite:///{tmp / 'ledger.sqlite3'}"
    os.environ.update({"PAID_CONFIG": str(stack.config_path), "PAID_LEDGER_URL": ledger_url})
    _ENGINES.clear()
    from paid_dagster.definitions import defs

    (tmp / "home").mkdir()
    try:
        with instance_for_test(temp_dir=str(tmp / "home")) as instance:
            seed, forge = stack.seed, stack.forge
            writer = forge.as_user(seed.writer)
            numbers = [seed.issue_number] + [
                writer.create_issue(seed.repo, SAMPLE_ISSUE_TITLE, sample_issue_body()) for _ in range(ISSUES - 1)
            ]
            mark = forge.request_mark()
            forge.set_faults(error_rate=rate, error_status=502, seed=7)
            started = time.time()
            labeled = {}
            for number in numbers:
                writer.label(seed.repo, number, "paid-build")
                labeled[issue_key(seed.repo, number)] = time.time()
            ledger = Ledger(ledger_url)
            keys = set(labeled)
            cursor = None
            for _ in range(20):
                cursor = sensor_tick(instance, defs, cursor, log_level="ERROR").cursor
                sensor_tick(instance, defs, None, sensor=paid_retry_sensor, log_level="ERROR")
                done = {e.stream for e in ledger.iter(kinds=[Kind.REVIEW_FINISHED, Kind.RUN_GAVE_UP])}
                if keys <= done:
                    break
            elapsed = time.time() - started
            forge.clear_faults()
            opened = {e.stream: e.at.timestamp() for e in ledger.iter(kinds=[Kind.PR_OPENED])}
            latencies = sorted(opened[k] - labeled[k] for k in keys if k in opened)
            requests = forge.requests(mark)
            return {
                "per_minute": len(opened) / (elapsed / 60),
                "p50": statistics.median(latencies) if latencies else float("nan"),
                "p95": latencies[max(0, round(0.95 * len(latencies)) - 1)] if latencies else float("nan"),
                "prs": len(opened),
                "requests": len(requests),
                "errors": sum(1 for r in requests if r.status >= 500),
            }
    finally:
        stack.stop()


def main() -> None:
    print(f"reliability: {ISSUES} labeled issues, GitHub answering 5xx at a given rate (retry sensor in the loop)")
    results = {}
    for rate in RATES:
        with tempfile.TemporaryDirectory() as tmp:
            results[rate] = one_rate(Path(tmp), rate)
    base = results[0.0]
    for rate, r in results.items():
        label = f"{rate:.0%} 5xx"
        row(f"{label}: draft PRs opened", r["prs"], f"of {ISSUES}")
        row(f"{label}: issues per minute", r["per_minute"], "/min", base["per_minute"])
        row(f"{label}: label → PR p50", r["p50"], "s", base["p50"], higher_is_better=False)
        row(f"{label}: label → PR p95", r["p95"], "s", base["p95"], higher_is_better=False)
        extra = max(0, r["requests"] - base["requests"])
        row(f"{label}: GitHub requests ({r['errors']:.0f} answered 5xx)", r["requests"], "req", base["requests"])
        row(f"{label}: share of requests spent on faults and retries", 100 * extra / r["requests"], "%")


if __name__ == "__main__":
    main()
