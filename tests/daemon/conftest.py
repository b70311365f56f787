"""A real `dagster dev` (webserver + daemon) on a temporary DAGSTER_HOME, with the offline stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from paid_standins.dagster_dev import free_port, start_dagster_dev, wait_until, webserver_up
from paid_standins.stack import TOKEN_ENV, OfflineStack, start_stack

from paid_dagster.cli import stop_group

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DagsterDev:
    url: str
    env: dict[str, str]
    stack: OfflineStack
    home: Path
    log: Path


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
    proc = start_dagster_dev(["-w", "workspace.yaml"], ROOT, env, log, port)
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
        stop_group(proc, grace_seconds=60)
        stack.stop()
