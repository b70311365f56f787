"""A real `dagster dev` (webserver + daemon) on a temporary DAGSTER_HOME, with the offline stack."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from paid_standins.dagster_dev import webserver_up
from paid_standins.stack import TOKEN_ENV, OfflineStack, start_stack

from paid_dagster.cli import as_from_a_shell

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DagsterDev:
    url: str
    env: dict[str, str]
    stack: OfflineStack
    home: Path
    log: Path


def wait_until(check, timeout: float, interval: float = 1.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    base = tmp_path_factory.mktemp("daemon")
    stack = start_stack(base / "stack", sandbox="bubblewrap")
    home = base / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(base),
        "DAGSTER_HOME": str(home),
        "PAID_CONFIG": str(stack.config_path),
        "PAID_LEDGER_URL": f"sqlite:///{home / 'paid_ledger.sqlite3'}",
        TOKEN_ENV: os.environ[TOKEN_ENV],
        "PAID_SENSOR_INTERVAL": "2",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "MSWEA_SILENT_STARTUP": "1",
        "DAGSTER_DISABLE_TELEMETRY": "yes",
    }
    log = base / "dagster-dev.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=as_from_a_shell,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: webserver_up(url, proc, log), 180, what="the Dagster webserver")
        started = subprocess.run(
            [sys.executable, "-m", "dagster", "sensor", "start", "paid_label_sensor", "-w", "workspace.yaml"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        yield DagsterDev(url, env, stack, home, log)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        stack.stop()
