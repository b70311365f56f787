"""The deployment up on this machine (real Docker engine, PostgreSQL in its container, Dagster's webserver, daemon
and code server, a container per run) against the forge and the scripted model, in containers too."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import yaml
from docker.errors import NotFound
from paid_standins.forge.seed import SAMPLE_REPO

from paid_dagster.keys import issue_key

from .conftest import SAMPLE_COPY, Running, paid, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.deploy]


def build_runs(deployment: Running, number: int) -> list[dict[str, Any]]:
    key = issue_key(SAMPLE_REPO, number)
    return [r for r in deployment.runs() if r["job"] == "paid_build" and r["tags"].get("dagster/partition") == key]


def gone(client: Any, container_id: str) -> bool:
    try:
        client.containers.get(container_id)
    except NotFound:
        return True
    return False


def test_label_becomes_a_draft_pr_through_the_daemon_and_a_run_container(deployment: Running) -> None:
    seen: dict[str, str] = {}  # run container id → its run id

    def pr_opened() -> list[dict[str, Any]]:
        for container in deployment.run_containers():
            seen[container.id] = container.labels.get("dagster/run_id", "")
        return deployment.pulls_of(1)

    deployment.label(1)
    pulls = wait_for(pr_opened, 600, "the draft PR of issue 1", interval=0.5)
    assert len(pulls) == 1 and pulls[0]["draft"] is True
    assert seen, "no run container was seen while the run went"
    runs = wait_for(
        lambda: [r for r in build_runs(deployment, 1) if r["status"] == "SUCCESS"], 300, "the run's success"
    )
    assert len(runs) == 1
    run = runs[0]
    assert run["tags"]["paid/repo"] == SAMPLE_REPO  # what the queue's per-repository limit counts
    container_id = run["tags"]["docker/container_id"]  # launched by the DockerRunLauncher
    assert container_id in seen and seen[container_id] == run["run_id"]
    wait_for(lambda: gone(deployment.client, container_id), 120, "the run's container to be removed")
    assert sum("draft pull request" in c for c in deployment.comments(1)) == 1


def test_no_secret_in_the_images_config_or_the_written_files(deployment: Running) -> None:
    client = deployment.client
    daemon = client.containers.get(f"{deployment.name}-daemon")
    assert f"PAID_DEPLOY_CANARY={deployment.canary}" in daemon.attrs["Config"]["Env"]  # passed at up, from the host
    password = (deployment.state / "postgres.password").read_text().strip()
    image = client.images.get(daemon.attrs["Config"]["Image"])
    for layer_image in (image, client.images.get(image.attrs["Parent"] or image.id)):
        config = str(layer_image.attrs["Config"])
        built_by = str(layer_image.attrs.get("ContainerConfig"))  # the build's container: its command, no secret
        assert deployment.canary not in config + built_by and password not in config + built_by
        assert "PIP_" not in config and "/run/paid-build" not in config  # the build's settings stayed out
    for path in deployment.state.glob("*"):
        if path.is_file() and path.name != "postgres.password":
            text = path.read_text()
            assert deployment.canary not in text and password not in text, path
    assert (deployment.state / "postgres.password").stat().st_mode & 0o777 == 0o600


def test_kill_9_of_the_daemon_with_runs_in_flight(deployment: Running) -> None:
    """The daemon's container and a run's container SIGKILLed mid-run (a machine's crash, as far as they go),
    then `up`: run monitoring fails the dead run; nothing is launched twice; the relabel's attempt ends in one
    PR and one link comment; the dead run's sandbox is reaped."""
    client = deployment.client
    number = deployment.new_issue()
    deployment.label(number)

    def in_flight() -> Any:
        for container in deployment.run_containers():
            runs = {r["run_id"]: r for r in build_runs(deployment, number)}
            run = runs.get(container.labels.get("dagster/run_id", ""))
            if run and run["status"] == "STARTED" and container.status == "running":
                return container, run
        return None

    container, run = wait_for(in_flight, 300, f"a run of issue {number} in flight", interval=0.3)
    time.sleep(2)  # into the agent's work: the sandbox is open
    client.containers.get(f"{deployment.name}-daemon").kill(signal="SIGKILL")
    container.kill(signal="SIGKILL")
    killed_host = container.id[:12]
    deployment.up()

    def failed() -> Any:
        found = [r for r in build_runs(deployment, number) if r["run_id"] == run["run_id"]]
        return found and found[0]["status"] == "FAILURE"

    wait_for(failed, 180, "run monitoring to fail the dead run")
    deployment.unlabel(number)
    deployment.label(number)  # the person's new attempt
    pulls = wait_for(lambda: deployment.pulls_of(number), 600, f"the draft PR of issue {number}")
    wait_for(
        lambda: any(r["status"] == "SUCCESS" for r in build_runs(deployment, number)), 300, "the new attempt's end"
    )
    assert len(deployment.pulls_of(number)) == 1 == len(pulls)
    assert sum("draft pull request" in c for c in deployment.comments(number)) == 1
    # Issues labeled before (by the other tests, when they ran first) kept one PR and one link comment each.
    for earlier in range(1, number):
        assert len(deployment.pulls_of(earlier)) <= 1
        assert sum("draft pull request" in c for c in deployment.comments(earlier)) <= 1
    keys = Counter(r["tags"].get("dagster/run_key") for r in deployment.runs() if r["tags"].get("dagster/run_key"))
    assert [k for k, n in keys.items() if n > 1] == []  # no run launched twice
    # The retry sensor recorded the dead run (a step never could): crashed, then superseded by the relabel.
    recorded = deployment.ledger(issue_key(SAMPLE_REPO, number), ["run.finished", "run.failed", "decision.made"])
    dead = [
        e
        for e in recorded
        if e["data"].get("dagster_run_id") == run["run_id"] or e["data"].get("run_id") == run["run_id"]
    ]
    assert [e["data"]["outcome"] for e in dead if e["kind"] == "run.finished"] == ["crashed"]
    assert [e["data"]["stage"] for e in dead if e["kind"] == "run.failed"] == ["worker"]
    retry_choices = [
        e["data"]["choice"] for e in dead if e["kind"] == "decision.made" and e["data"]["decision"] == "retry"
    ]
    assert "superseded" in retry_choices and "retry" not in retry_choices
    orphans = client.containers.list(filters={"label": ["paid.sandbox=1", f"paid.owner_host={killed_host}"]})
    assert orphans == [], "the dead run's sandbox outlived the next sandbox start"


def test_a_stop_while_the_run_container_starts_cancels_it_for_good(deployment: Running) -> None:
    """`paid stop` while the run's container is still starting (before Dagster marks the run started): the stop
    waits for the start, so the run ends CANCELED, not FAILED or stuck CANCELING (a SIGTERM during the imports
    killed the process without a word; the run's start event turned CANCELING back into STARTED), and the cancel
    is recorded once with who, told once, never retried and never published."""
    client = deployment.client
    before = {c.id for c in deployment.run_containers()}
    number = deployment.new_issue()
    deployment.label(number)

    def new_build_container() -> Any:
        found = [c for c in deployment.run_containers() if c.id not in before]
        return next((c for c in found if c.labels.get("dagster/job_name") == "paid_build"), None)

    container = wait_for(new_build_container, 300, f"the run container of issue {number}", interval=0.1)
    run_id = container.labels["dagster/run_id"]
    stopped_at = time.time()
    webserver = client.containers.get(f"{deployment.name}-webserver")
    code, output = webserver.exec_run(["paid", "stop", f"{SAMPLE_REPO}#{number}", "--by", "mona", "--wait", "180"])
    assert code == 0, output.decode(errors="replace")
    run = next(r for r in build_runs(deployment, number) if r["run_id"] == run_id)
    assert run["status"] == "CANCELED"
    assert run["started"] is not None and stopped_at < run["started"]  # the stop came before the run's start
    key = issue_key(SAMPLE_REPO, number)
    wait_for(lambda: sum("<!-- paid:canceled:" in c for c in deployment.comments(number)), 60, "the comment")
    time.sleep(3 * 3 + 3)  # three retry-sensor intervals (PAID_SENSOR_INTERVAL=3): nothing may follow
    recorded = deployment.ledger(key, ["run.finished", "run.failed", "retry.scheduled", "pr.opened"])
    assert [(e["kind"], e["data"].get("outcome"), e["data"].get("canceled_by")) for e in recorded] == [
        ("run.finished", "canceled", "mona")
    ]
    assert [r["run_id"] for r in build_runs(deployment, number)] == [run_id]  # no retry
    assert sum("<!-- paid:canceled:" in c for c in deployment.comments(number)) == 1
    assert deployment.pulls_of(number) == []


def test_status_and_logs(deployment: Running) -> None:
    status = paid("deploy", "status", *deployment.args)
    assert status.returncode == 0, status.stderr
    for service in ("postgres", "usercode", "daemon", "webserver", "forge", "model"):
        assert f"{deployment.name}-{service}" in status.stdout
    assert "SUCCESS" in status.stdout
    # `--sample-copy`: the copy is on the forge with the sample's people, and the deployment watches it.
    assert deployment.as_user("writer", "GET", f"/repos/{SAMPLE_COPY}")["permissions"]["push"] is True
    watched = yaml.safe_load((deployment.state / "paid.yaml").read_text())["repositories"]
    assert [r["name"] for r in watched] == [SAMPLE_REPO, SAMPLE_COPY]
    logs = paid("deploy", "logs", "daemon", "--tail", "50", *deployment.args)
    assert logs.returncode == 0 and "SensorDaemon" in logs.stdout + logs.stderr
    assert deployment.canary not in logs.stdout
