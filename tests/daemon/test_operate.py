"""Runs a person can watch, stop and start, under a real `dagster dev` with bubblewrap sandboxes:

- `paid run` starts an issue by hand (one run, the trigger recorded with who); `paid stop` ends it while the
  agent's sandbox runs a command: the sandbox is gone within BOUND_SECONDS, nothing is pushed, one comment, the
  cancel recorded with who, and no retry follows;
- in Chromium, the run page of a run launched from the UI shows the agent's turns while it runs, and pressing
  Terminate does the same as `paid stop`;
- 20 issues labeled at once across 3 repositories: 20 pull requests, and never more runs of one repository at
  once than `concurrency.per_repository`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from paid_standins.dagster_dev import (
    DagsterDev,
    add_sample_repositories,
    configure,
    dagster_dev,
    most_at_once,
    wait_until,
)
from paid_standins.forge.seed import sample_issue_body
from paid_standins.model.scripted import SCRIPTS_DIR
from paid_standins.stack import start_stack

from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger
from paid_dagster.run_launcher import FORKSERVER, LAUNCHER_TAG

from .test_daemon_and_ui import click, dismiss_overlays, launch_browser

pytestmark = pytest.mark.daemon
BOUND_SECONDS = 15  # terminate → the sandbox's processes gone (a few seconds; wider under a loaded machine)
PER_REPOSITORY = 2
SLOW_TITLE = "Checkout waits on the slow stock service"
SLEEP = "sleep 317"  # the slow command; a number nothing else on the machine sleeps


def script() -> dict[str, Any]:
    import yaml

    demo = yaml.safe_load((SCRIPTS_DIR / "demo.yaml").read_text())["conversations"]
    slow = {
        "match": "slow stock service",
        "turns": [
            {
                "content": "THOUGHT: Let me read the cart module first.\n\n```mswea_bash_command\ncat shopcart/cart.py\n```"
            },
            {"content": f"THOUGHT: Wait for the stock service to answer.\n\n```mswea_bash_command\n{SLEEP}\n```"},
            {"content": "THOUGHT: Done.\n\n```mswea_bash_command\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"},
        ],
    }
    return {"conversations": [*demo[:2], slow, *demo[2:]]}  # after the reviewer's and the triager's


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    base = tmp_path_factory.mktemp("operate")
    stack = start_stack(base / "stack", script=script(), sandbox="bubblewrap")
    configure(stack, concurrency={"max_runs": 4, "per_repository": PER_REPOSITORY})
    add_sample_repositories(stack, ["octo-org/shopcart-two", "octo-org/shopcart-three"])
    try:
        with dagster_dev(base, stack) as running:
            yield running
    finally:
        stack.stop()


def instance(dev: DagsterDev) -> DagsterInstance:
    os.environ["DAGSTER_HOME"] = str(dev.home)
    return DagsterInstance.get()


def slow_issue(dev: DagsterDev) -> tuple[str, int]:
    seed = dev.stack.seed
    number = dev.stack.forge.as_user(seed.outsider).create_issue(seed.repo, SLOW_TITLE, sample_issue_body())
    return seed.repo, number


def sandboxed_sleeps() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[:2] == [b"sleep", SLEEP.split()[1].encode()]:
                pids.append(int(entry.name))
    return pids


def log_lines(dev: DagsterDev, run_id: str) -> list[str]:
    return [e.user_message for e in instance(dev).all_logs(run_id)]


def canceled_comments(dev: DagsterDev, repo: str, number: int) -> list[str]:
    forge = dev.stack.forge
    issue = forge.service.find_issue(forge.repo(repo), number)
    bodies = [row["body"] for row in forge.store.all("SELECT body FROM comments WHERE issue_id = ?", issue["id"])]
    return [b for b in bodies if "<!-- paid:canceled:" in b]


def assert_stopped_for_good(dev: DagsterDev, repo: str, number: int, run_id: str, by: str) -> None:
    """Canceled, recorded with who, told once, nothing pushed, and no later run takes it up again."""
    key = issue_key(repo, number)
    runs = wait_until(
        lambda: [r for r in instance(dev).get_runs(RunsFilter(run_ids=[run_id])) if r.is_finished],
        120,
        what="the run to end",
    )
    assert runs[0].status == DagsterRunStatus.CANCELED
    ledger = Ledger(dev.ledger_url)
    finished = wait_until(
        lambda: [e.data for e in ledger.read(stream=key, kinds=["run.finished"]) if e.data["outcome"] == "canceled"],
        60,
        what="run.finished (canceled)",
    )
    assert len(finished) == 1 and finished[0]["canceled_by"] == by and finished[0]["stage"] == "agent_run"
    decisions = [e.data for e in ledger.read(stream=key, kinds=["decision.made"]) if e.data["decision"] == "cancel"]
    assert len(decisions) == 1 and by in decisions[0]["rationale"]
    wait_until(lambda: canceled_comments(dev, repo, number), 60, what="the comment on the issue")
    # Three retry-sensor intervals later: no retry, no second run, still one comment, nothing pushed.
    time.sleep(3 * int(dev.env["PAID_SENSOR_INTERVAL"]) + 3)
    kinds = [e.kind for e in ledger.read(stream=key)]
    assert "run.failed" not in kinds and "retry.scheduled" not in kinds and "run.gave_up" not in kinds, kinds
    assert "branch.pushed" not in kinds and "pr.opened" not in kinds, kinds
    assert len(instance(dev).get_runs(RunsFilter(tags={"dagster/partition": key}))) == 1
    assert len(canceled_comments(dev, repo, number)) == 1
    forge = dev.stack.forge
    pulls = forge.store.all(
        "SELECT p.head_ref FROM pulls p JOIN issues i ON i.id = p.issue_id WHERE i.repo_id = ? AND p.head_ref LIKE ?",
        forge.repo(repo)["id"],
        f"paid/{number}-%",
    )
    assert pulls == []


def test_paid_run_starts_one_run_and_paid_stop_ends_it_for_good(dev: DagsterDev) -> None:
    repo, number = slow_issue(dev)
    started = dev.paid("run", f"{repo}#{number}", "--by", "alice")
    assert started.returncode == 0, started.stdout + started.stderr
    run_id = started.stdout.split("started run ")[1].split(":")[0]
    # A second `paid run` while it runs is refused: one run per issue.
    again = dev.paid("run", f"{repo}#{number}", "--by", "alice")
    assert again.returncode == 1 and "already has a run in progress" in again.stderr
    key = issue_key(repo, number)
    ledger = Ledger(dev.ledger_url)
    requested = wait_until(lambda: ledger.read(stream=key, kinds=["run.requested"]), 120, what="run.requested")
    assert [(e.data["by"], e.data["via"], e.data["dagster_run_id"]) for e in requested] == [("alice", "cli", run_id)]
    triggers = [e.data for e in ledger.read(stream=key, kinds=["decision.made"]) if e.data["decision"] == "trigger"]
    assert len(triggers) == 1 and "alice" in triggers[0]["rationale"]
    run = instance(dev).get_run_by_id(run_id)
    assert run is not None and run.tags["paid/repo"] == repo and run.tags["paid/cause"] == "manual"
    # The agent's first turn is in the run's log while the second (the slow command) runs in the sandbox.
    wait_until(sandboxed_sleeps, 180, interval=0.5, what="the slow command in the sandbox")
    turns = [line for line in log_lines(dev, run_id) if line.startswith("turn ")]
    assert (
        turns and turns[0].startswith("turn 1 · Let me read the cart module") and "$ cat shopcart/cart.py" in turns[0]
    )
    assert "exit 0" in turns[0] and "tokens" in turns[0] and "so far" in turns[0], turns
    stopped_at = time.monotonic()
    stopped = dev.paid("stop", f"{repo}#{number}", "--by", "bob")
    wait_until(lambda: not sandboxed_sleeps(), BOUND_SECONDS, interval=0.2, what="the sandbox to be gone")
    print(f"terminate → sandbox gone: {time.monotonic() - stopped_at:.1f} s")
    assert stopped.returncode == 0 and "canceled" in stopped.stdout, stopped.stdout + stopped.stderr
    assert_stopped_for_good(dev, repo, number, run_id, "bob")


def confirm_missing_upstream(page: Any) -> None:
    """Dagster asks "Are you sure?" when an upstream asset (prompt_registry, until the automation sensor has
    materialized it) was never materialized: a person confirms it; the test does the same."""
    confirm = page.get_by_role("button", name="Confirm")
    try:
        confirm.first.wait_for(timeout=5_000)
    except Exception:
        return  # no question asked: the launch dialog is open
    confirm.first.click()


def launch_from_the_ui(page: Any, dev: DagsterDev, key: str) -> str:
    """paid_build's "Materialize all…" for one partition, picked in the launch dialog: "Launch 1 run"."""
    from paid_dagster.commands.operate import Webserver

    webserver = Webserver(dev.url)
    webserver.add_partition(*webserver.job_location(), key)  # the dialog's "Add partition" does the same
    location, _ = webserver.job_location()
    page.goto(f"{dev.url}/locations/{location}/jobs/paid_build", wait_until="networkidle")
    dismiss_overlays(page)
    click(page, page.get_by_role("button", name="Materialize all…"))
    confirm_missing_upstream(page)
    # Inside the dialog, plain clicks: `click` closes overlays, and the dialog is one.
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Select a partition or create one").click(timeout=60_000)
    page.keyboard.type(key)
    page.get_by_role("menuitem", name=key).last.click(timeout=60_000)
    dialog.get_by_role("button", name="Launch 1 run").click(timeout=60_000)
    runs = wait_until(
        lambda: instance(dev).get_runs(RunsFilter(tags={"dagster/partition": key})), 60, what="the launched run"
    )
    assert len(runs) == 1
    return str(runs[0].run_id)


def test_the_run_page_shows_the_turns_and_terminate_stops_it(dev: DagsterDev, tmp_path: Path) -> None:
    repo, number = slow_issue(dev)
    key = issue_key(repo, number)
    manager, browser = launch_browser()
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        run_id = launch_from_the_ui(page, dev, key)
        wait_until(sandboxed_sleeps, 180, interval=0.5, what="the slow command in the sandbox")
        ledger = Ledger(dev.ledger_url)
        requested = ledger.read(stream=key, kinds=["run.requested"])
        assert [(e.data["by"], e.data["via"], e.data["dagster_run_id"]) for e in requested] == [
            ("Dagster UI", "ui", run_id)
        ]
        run = instance(dev).get_run_by_id(run_id)
        assert run is not None and run.tags["paid/repo"] == repo  # tagged by the run queue: counted per repository
        page.goto(f"{dev.url}/runs/{run_id}", wait_until="networkidle")
        dismiss_overlays(page)
        page.get_by_text("turn 1 · Let me read the cart module", exact=False).first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "run-in-progress.png"))
        assert sandboxed_sleeps(), "the run ended before Terminate was pressed"
        click(page, page.get_by_role("button", name="Terminate").first)
        stopped_at = time.monotonic()
        dialog = page.get_by_role("dialog")
        click(page, dialog.get_by_role("button", name="Terminate"))
        wait_until(lambda: not sandboxed_sleeps(), BOUND_SECONDS, interval=0.2, what="the sandbox to be gone")
        print(f"Terminate pressed → sandbox gone: {time.monotonic() - stopped_at:.1f} s")
        page.get_by_text("Canceled", exact=False).first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "run-canceled.png"))
    finally:
        browser.close()
        manager.stop()
    assert_stopped_for_good(dev, repo, number, run_id, "Dagster UI")


def finished_runs(dev: DagsterDev, streams: set[str]) -> list[Any]:
    """The run records of these issues once every one of them has finished (empty until then)."""
    records = instance(dev).get_run_records(RunsFilter(job_name="paid_build"))
    mine = [r for r in records if r.dagster_run.tags.get("dagster/partition") in streams]
    return mine if mine and all(r.dagster_run.is_finished for r in mine) else []


def test_twenty_issues_across_three_repositories_never_exceed_the_per_repository_limit(dev: DagsterDev) -> None:
    seed, forge = dev.stack.seed, dev.stack.forge
    repos = [seed.repo, "octo-org/shopcart-two", "octo-org/shopcart-three"]
    issues = []
    for index in range(20):
        repo = repos[index % 3]
        issues.append(
            (
                repo,
                forge.as_user(seed.outsider).create_issue(
                    repo, "Cart total leaves out the first item", sample_issue_body()
                ),
            )
        )
    labeled_at = datetime.now(UTC)
    for repo, number in issues:
        forge.as_user(seed.writer).label(repo, number, "paid-build")
    ledger = Ledger(dev.ledger_url)

    def opened() -> list[str]:
        streams = {issue_key(r, n) for r, n in issues}
        return [e.stream for e in ledger.read(kinds=["pr.opened"]) if e.stream in streams]

    wait_until(lambda: len(opened()) == 20, 1200, interval=2, what="20 pull requests")
    streams = {issue_key(r, n) for r, n in issues}
    runs = wait_until(lambda: finished_runs(dev, streams), 300, what="the 20 runs to finish")
    assert len(runs) == 20 and all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in runs)
    # Each forked from the daemon's warm process (the instance's ForkserverRunLauncher), none a fresh interpreter.
    assert all(r.dagster_run.tags.get(LAUNCHER_TAG) == FORKSERVER for r in runs)
    assert len({r.dagster_run.tags["paid/worker_pid"] for r in runs}) == 20
    spans = []
    for record in runs:
        assert record.start_time is not None and record.end_time is not None
        spans.append((record.dagster_run.tags["paid/repo"], record.start_time, record.end_time))
    most = most_at_once(spans)
    print(f"most concurrent runs per repository: {most}")
    assert set(most) == set(repos) and max(most.values()) <= PER_REPOSITORY, most
    assert max(most.values()) == PER_REPOSITORY, f"the queue never ran {PER_REPOSITORY} of a repository at once: {most}"
    assert len(set(opened())) == 20
    print(f"20 issues → 20 PRs in {(datetime.now(UTC) - labeled_at).total_seconds():.0f} s")
