"""`kill -9` of the whole `dagster dev` with an agent run in flight, then a restart on the same DAGSTER_HOME: the
dead run is marked failed, the crash is recorded, the issue is retried to exactly one PR, nothing written before
the kill is lost, and a later label is not blocked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from paid_standins.dagster_dev import start_dagster_dev, webserver_up
from paid_standins.forge.seed import SAMPLE_ISSUE_TITLE, sample_issue_body
from paid_standins.stack import TOKEN_ENV, start_stack

from paid_dagster.cli import stop_group
from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger

from .conftest import ROOT, free_port, wait_until

pytestmark = pytest.mark.daemon
BOUND_SECONDS = 120  # two retry-sensor intervals (2 s here, 30 s by default) plus the restart, under load


@contextmanager
def dagster_dev(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    proc = start_dagster_dev(["-w", "workspace.yaml"], ROOT, env, log, port)
    try:
        wait_until(lambda: webserver_up(f"http://127.0.0.1:{port}", proc, log), 180, what="the Dagster webserver")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dagster",
                "sensor",
                "start",
                "paid_label_sensor",
                "-w",
                "workspace.yaml",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        yield proc
    finally:
        if proc.poll() is None:
            stop_group(proc, grace_seconds=60)


def test_a_run_killed_with_dagster_dev_is_failed_recorded_and_retried_to_one_pr(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "stack", sandbox="bubblewrap")
    slow = {"conversations": [{"match": "total_cents|Cart total", "turns": [{"delay_ms": 60_000, "content": ""}]}]}
    stack.model.script.conversations.insert(2, slow["conversations"][0])  # the agent thinks for a minute
    data = yaml.safe_load(stack.config_path.read_text())
    data["retries"] = {"max_attempts": 3, "backoff_seconds": 0}
    stack.config_path.write_text(yaml.safe_dump(data))
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(home),
        "PAID_CONFIG": str(stack.config_path),
        "PAID_LEDGER_URL": f"sqlite:///{home / 'paid_ledger.sqlite3'}",
        TOKEN_ENV: os.environ[TOKEN_ENV],
        "PAID_SENSOR_INTERVAL": "2",
    }
    ledger = Ledger(env["PAID_LEDGER_URL"])
    seed, forge = stack.seed, stack.forge
    key = issue_key(seed.repo, seed.issue_number)
    log = tmp_path / "dagster-dev.log"
    try:
        with dagster_dev(env, log) as first:
            forge.as_user(seed.writer).label(seed.repo, seed.issue_number, "paid-build")
            wait_until(lambda: ledger.read(stream=key, kinds=["run.started"]), 240, what="the agent run to start")
            before = [e.seq for e in ledger.read(stream=key)]
            os.killpg(first.pid, signal.SIGKILL)  # the whole process group, the run's worker among it
            first.wait(timeout=30)
        started = ledger.read(stream=key, kinds=["run.started"])[0].data
        worker = int(started["worker_pid"])
        if Path(f"/proc/{worker}").exists():  # a worker outside the group: killed as the host would lose it
            os.kill(worker, signal.SIGKILL)
        stack.model.script.conversations.remove(slow["conversations"][0])  # the next attempt works normally
        killed_at = time.monotonic()
        with dagster_dev(env, log):

            def crash_recorded() -> bool:
                return any(e.data.get("outcome") == "crashed" for e in ledger.read(stream=key, kinds=["run.finished"]))

            wait_until(crash_recorded, BOUND_SECONDS, what="the crash to be recorded")
            bound = time.monotonic() - killed_at
            pull = wait_until(
                lambda: forge.store.all("SELECT p.head_ref FROM pulls p"), 300, what="the retried run's pull request"
            )
            assert len(pull) == 1
            # A later label is not blocked by the dead run.
            writer = forge.as_user(seed.writer)
            second = writer.create_issue(seed.repo, SAMPLE_ISSUE_TITLE, sample_issue_body())
            writer.label(seed.repo, second, "paid-build")
            wait_until(
                lambda: len(forge.store.all("SELECT p.head_ref FROM pulls p")) == 2, 300, what="the second issue's PR"
            )
        with DagsterInstance.from_config(str(home)) as instance:
            failed = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
            assert any(r.run_id == started["dagster_run_id"] for r in failed), "the dead run was not marked failed"
            assert not instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]))
        after = [e.seq for e in ledger.read(stream=key)]
        assert set(before) <= set(after), "events written before the kill were lost"
        assert bound < BOUND_SECONDS
        print(f"crash recorded {bound:.0f} s after the restart began")
    finally:
        stack.stop()
