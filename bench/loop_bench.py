"""Label-to-PR wall time of the demo loop (scripted model, zero think time), in process and under the daemon,
beside the same git and HTTP work done by a plain script (clone, edit, commit, push, open PR, comment)."""

from __future__ import annotations

import base64
import importlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dagster import instance_for_test
from github import Auth, Github
from paid_standins.stack import start_stack

from bench.common import row

ROOT = Path(__file__).resolve().parents[1]


def plain_script(tmp: Path) -> float:
    stack = start_stack(tmp / "plain")
    try:
        seed, forge = stack.seed, stack.forge
        token = forge.token(seed.bot)
        started = time.perf_counter()
        gh = Github(base_url=forge.url, auth=Auth.Token(token), seconds_between_requests=0, seconds_between_writes=0)
        repo = gh.get_repo(seed.repo)
        issue = repo.get_issue(1)
        work = tmp / "plain-work"
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        auth = ["-c", f"http.extraHeader=Authorization: Basic {basic}", "-c", "user.name=p", "-c", "user.email=p@x"]
        subprocess.run(["git", *auth, "clone", "-q", repo.clone_url, str(work)], check=True)
        subprocess.run(["git", "checkout", "-q", "-b", "plain/1-fix"], cwd=work, check=True)
        cart = work / "shopcart" / "cart.py"
        cart.write_text(cart.read_text().replace("range(1, len(items))", "range(len(items))"))
        subprocess.run(["git", *auth, "commit", "-qam", "fix"], cwd=work, check=True)
        subprocess.run(["git", *auth, "push", "-q", "origin", "plain/1-fix"], cwd=work, check=True)
        pull = repo.create_pull(title=issue.title, body="Closes #1", head="plain/1-fix", base="main", draft=True)
        issue.create_comment(f"PR: {pull.html_url}")
        return time.perf_counter() - started
    finally:
        stack.stop()


def in_process(tmp: Path) -> float:
    from paid_standins.inprocess import sensor_tick

    stack = start_stack(tmp / "inproc", sandbox="bubblewrap")
    os.environ["PAID_CONFIG"] = str(stack.config_path)
    os.environ["PAID_LEDGER_URL"] = f"sqlite:///{tmp / 'inproc-ledger.sqlite3'}"
    from paid_dagster.definitions import defs

    # The baseline is the loop's own work with its libraries loaded, as when the definitions imported them all:
    # the model libraries now load at the first model call, and that import is not the loop's work.
    importlib.import_module("litellm")
    importlib.import_module("paid_dagster.agent.engine")  # mini-swe-agent

    (tmp / "inproc-home").mkdir()
    try:
        with instance_for_test(temp_dir=str(tmp / "inproc-home")) as instance:
            started = time.perf_counter()
            stack.forge.as_user(stack.seed.writer).label(stack.seed.repo, 1, "paid-build")
            tick = sensor_tick(instance, defs, None, log_level="ERROR")
            assert len(tick.launched) == 1, tick
            return time.perf_counter() - started
    finally:
        stack.stop()


def under_daemon(tmp: Path) -> float:
    sys.path.insert(0, str(ROOT))
    from tests.daemon.conftest import free_port, wait_until

    stack = start_stack(tmp / "daemon", sandbox="bubblewrap")
    home = tmp / "daemon-home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PAID_CONFIG": str(stack.config_path),
        "PAID_LEDGER_URL": f"sqlite:///{home / 'ledger.sqlite3'}",
        "PAID_SENSOR_INTERVAL": "1",
    }
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import requests

        wait_until(lambda: _ok(requests, f"http://127.0.0.1:{port}/server_info"), 180, what="dagster dev")
        subprocess.run(
            [sys.executable, "-m", "dagster", "sensor", "start", "paid_label_sensor", "-w", "workspace.yaml"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        time.sleep(3)  # let the first (empty) tick pass so that timing starts from a running sensor
        started = time.perf_counter()
        stack.forge.as_user(stack.seed.writer).label(stack.seed.repo, 1, "paid-build")
        store = stack.forge.store
        wait_until(
            lambda: store.scalar("SELECT COUNT(*) FROM comments WHERE body LIKE '%draft pull request%'"),
            300,
            interval=0.2,
            what="the PR link comment",
        )
        return time.perf_counter() - started
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        stack.stop()


def _ok(requests_module: object, url: str) -> bool:
    try:
        return bool(requests_module.get(url, timeout=2).ok)  # type: ignore[attr-defined]
    except Exception:
        return False


def main() -> None:
    print("loop: label → draft PR wall time (scripted model, zero think time)")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        plain = plain_script(tmp)
        row("plain script: clone, edit, commit, push, open PR, comment", plain, "s")
        inproc = in_process(tmp)
        row("Paid in process: sensor tick + 5 assets, 6 model calls", inproc, "s", plain, higher_is_better=False)
        if os.environ.get("BENCH_SKIP_DAEMON") != "1":
            daemon = under_daemon(tmp)
            row("Paid under dagster dev: label → PR (1 s sensor interval)", daemon, "s", plain, higher_is_better=False)


if __name__ == "__main__":
    main()
