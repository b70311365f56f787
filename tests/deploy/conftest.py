"""A real deployment on this machine's Docker engine (`paid deploy up --offline`), shared by the tests of a module
and removed afterwards with its containers, network and volume (the cached images are kept)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from paid_standins.forge.seed import SAMPLE_REPO

from paid_dagster.deployment.engine import runs
from paid_dagster.deployment.layout import LABEL, Deployment
from tests.daemon.conftest import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
CANARY_ENV = "PAID_DEPLOY_CANARY"
SAMPLE_COPY = "octo-org/shopcart-two"  # a second repository on the offline forge, watched like the sample


def paid(*args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """This worktree's `paid`, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "paid_dagster.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


@dataclass
class Running:
    name: str
    state: Path
    ui_port: int
    forge_port: int
    canary: str
    up_env: dict[str, str]
    client: Any
    up_options: tuple[str, ...] = ()  # given to every `up`: a later `up` without them would drop what they add

    @property
    def args(self) -> list[str]:
        return ["--name", self.name, "--dir", str(self.state)]

    def up(self) -> subprocess.CompletedProcess[str]:
        ports = ["--ui-port", str(self.ui_port), "--forge-port", str(self.forge_port)]
        result = paid("deploy", "up", "--offline", *self.args, *ports, *self.up_options, env=self.up_env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def deployment(self) -> Deployment:
        return Deployment(self.name, self.state, "", 0, 0, ())

    def runs(self) -> list[dict[str, Any]]:
        return runs(self.client, self.deployment())

    def ledger(self, stream: str, kinds: list[str]) -> list[dict[str, Any]]:
        """The ledger's events of one issue, read inside the webserver's container (where the database is)."""
        script = (
            "import json, sys\nfrom paid_dagster.ledger import Ledger\n"
            "events = Ledger().read(stream=sys.argv[1], kinds=sys.argv[2:])\n"
            "print(json.dumps([{'kind': e.kind, 'data': e.data} for e in events]))"
        )
        container = self.client.containers.get(f"{self.name}-webserver")
        code, output = container.exec_run(["python3", "-c", script, stream, *kinds])
        assert code == 0, output.decode(errors="replace")[-2000:]
        return list(json.loads(output.decode().strip().splitlines()[-1]))

    def run_containers(self) -> list[Any]:
        filters = {"label": [f"{LABEL}={self.name}", "paid.role=run"]}
        return list(self.client.containers.list(all=True, filters=filters))

    # --- the forge, as the people on it ---

    @property
    def forge(self) -> str:
        return f"http://127.0.0.1:{self.forge_port}"

    def token(self, who: str) -> str:
        seed = json.loads((self.state / "forge" / "sample-seed.json").read_text())
        return str(seed["tokens"][seed[who]])

    def as_user(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"token {self.token(who)}"}
        response = requests.request(method, f"{self.forge}{path}", headers=headers, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def new_issue(self, repo: str = SAMPLE_REPO) -> int:
        """A new issue like the sample's, opened by the writer; its number."""
        from paid_standins.forge.seed import SAMPLE_ISSUE_TITLE, sample_issue_body

        body = {"title": SAMPLE_ISSUE_TITLE, "body": sample_issue_body()}
        return int(self.as_user("writer", "POST", f"/repos/{repo}/issues", json=body)["number"])

    def label(self, number: int) -> None:
        self.as_user("writer", "POST", f"/repos/{SAMPLE_REPO}/issues/{number}/labels", json={"labels": ["paid-build"]})

    def unlabel(self, number: int) -> None:
        self.as_user("writer", "DELETE", f"/repos/{SAMPLE_REPO}/issues/{number}/labels/paid-build")

    def pulls(self) -> list[dict[str, Any]]:
        return list(self.as_user("writer", "GET", f"/repos/{SAMPLE_REPO}/pulls", params={"state": "all"}))

    def pulls_of(self, number: int) -> list[dict[str, Any]]:
        return [p for p in self.pulls() if p["head"]["ref"].startswith(f"paid/{number}-")]

    def diagnosis(self) -> str:
        lines = ["runs:"]
        for run in self.runs():
            tags = run["tags"]
            lines.append(f"  {run['run_id'][:8]} {run['job']} {run['status']} {tags.get('dagster/partition', '')}")
        for issue in self.as_user("writer", "GET", f"/repos/{SAMPLE_REPO}/issues", params={"state": "all"}):
            labels = [label["name"] for label in issue["labels"]]
            lines.append(f"issue #{issue['number']} {labels}:")
            lines += [f"  comment: {body[:600]}" for body in self.comments(issue["number"])]
        daemon = self.client.containers.get(f"{self.name}-daemon")
        lines.append("daemon, last lines:")
        lines.append(daemon.logs(tail=60).decode(errors="replace"))
        return "\n".join(lines)

    def comments(self, number: int) -> list[str]:
        found = self.as_user("writer", "GET", f"/repos/{SAMPLE_REPO}/issues/{number}/comments")
        return [c["body"] for c in found]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    state = tmp_path_factory.mktemp("deploy") / "state"
    canary = "canary" + uuid.uuid4().hex
    up_env = {
        "PAID_SENSOR_INTERVAL": "3",
        "PAID_SECRET_ENV": CANARY_ENV,  # a secret the runs get by name: its value must be written nowhere
        CANARY_ENV: canary,
    }
    running = Running(
        f"paid-t{uuid.uuid4().hex[:6]}",
        state,
        free_port(),
        free_port(),
        canary,
        up_env,
        docker.from_env(),
        ("--sample-copy", SAMPLE_COPY),
    )
    try:
        started = time.monotonic()
        running.up()
        print(f"deployment up in {time.monotonic() - started:.1f} s")
        yield running
    finally:
        result = paid("deploy", "down", "--volumes", *running.args)
        assert result.returncode == 0, result.stderr
        leftovers = running.client.containers.list(all=True, filters={"label": f"{LABEL}={running.name}"})
        assert leftovers == [], [c.name for c in leftovers]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed deployment test carries what the deployment knew: its runs, the issues' comments, the daemon's
    last lines. A timeout alone says nothing of why (a run failed and said so on the issue, or none started)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    running = getattr(item, "funcargs", {}).get("deployment")
    if report.when != "call" or not report.failed or not isinstance(running, Running):
        return
    with contextlib.suppress(Exception):
        report.sections.append(("deployment", running.diagnosis()))


def wait_for(check: Any, timeout: float, what: str, interval: float = 1.0) -> Any:
    return wait_until(check, timeout, interval=interval, what=what)
