"""A real `dagster dev` (webserver, daemon, code server) on a fresh DAGSTER_HOME over the offline stack, for the
tests and benchmarks that need Dagster's own processes: this interpreter's Paid, the instance's run queue set
from paid.yaml's `concurrency:` as `paid ui` sets it, and more sample repositories when asked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml

from paid_dagster.cli import as_from_a_shell, stop_group
from paid_dagster.concurrency import with_run_coordinator
from paid_dagster.config import load_config

from .forge.seed import add_sample_copies
from .stack import TOKEN_ENV, OfflineStack

T = TypeVar("T")
MODULE = "paid_dagster.definitions"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], T], timeout: float, interval: float = 1.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def configure(stack: OfflineStack, **sections: Any) -> None:
    """Top-level sections of the stack's paid.yaml replaced (e.g. concurrency)."""
    config = yaml.safe_load(stack.config_path.read_text())
    config.update(sections)
    stack.config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def add_sample_repositories(stack: OfflineStack, names: list[str]) -> list[str]:
    """More copies of the sample repository (same people, same bug), watched by Paid like the first."""
    seed, forge = stack.seed, stack.forge
    config = yaml.safe_load(stack.config_path.read_text())
    template = config["repositories"][0]
    add_sample_copies(forge, seed, names)
    for name in names:
        config["repositories"].append({**template, "name": name})
    stack.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return [seed.repo, *names]


@dataclass
class DagsterDev:
    url: str
    env: dict[str, str]
    home: Path
    log: Path
    stack: OfflineStack

    @property
    def ledger_url(self) -> str:
        return self.env["PAID_LEDGER_URL"]

    def dagster(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `dagster` CLI of this interpreter on the same instance and code."""
        argv = [sys.executable, "-m", "dagster", *args, "-m", MODULE]
        return subprocess.run(argv, cwd=self.home, env=self.env, capture_output=True, text=True, check=False)

    def paid(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `paid` CLI of this interpreter, pointed at this Dagster."""
        argv = [sys.executable, "-m", "paid_dagster.cli", *args]
        env = {**self.env, "PAID_DAGSTER_URL": self.url}
        return subprocess.run(argv, cwd=self.home, env=env, capture_output=True, text=True, check=False, timeout=180)


def most_at_once(spans: Iterable[tuple[str, float, float]]) -> dict[str, int]:
    """Per group, the most (group, start, end) spans open at one moment: how many runs of one repository the
    queue let go at once. An end at the same instant as a start counts first (the slot was handed over)."""
    events: dict[str, list[tuple[float, int]]] = {}
    for group, start, end in spans:
        events.setdefault(group, []).extend([(start, 1), (end, -1)])
    most = {}
    for group, points in events.items():
        current = peak = 0
        for _, step in sorted(points):
            current += step
            peak = max(peak, current)
        most[group] = peak
    return most


def start_dagster_dev(
    target: list[str], cwd: Path, env: dict[str, str], log: Path, port: int
) -> subprocess.Popen[bytes]:
    """`dagster dev` for `target` (`-m MODULE` or `-w workspace.yaml`) on 127.0.0.1:`port`, its output appended to
    `log`: in its own process group (stopped with everything it started by `paid_dagster.cli.stop_group`), with a
    shell's signal state whatever this process inherited."""
    argv = [sys.executable, "-m", "dagster", "dev", *target, "-h", "127.0.0.1", "-p", str(port)]
    with log.open("a") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=as_from_a_shell,
        )


def webserver_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    """Whether `dagster dev`'s webserver answers; its log's tail as the error once the process has exited."""
    if proc.poll() is not None:
        raise AssertionError(f"dagster dev exited: {log.read_text()[-3000:]}")
    try:
        return requests.get(f"{url}/server_info", timeout=2).ok
    except requests.RequestException:
        return False


@contextmanager
def dagster_dev(
    base: Path, stack: OfflineStack, sensors: tuple[str, ...] = ("paid_label_sensor",), sensor_interval: int = 2
) -> Iterator[DagsterDev]:
    home = base / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    template = resources.files("paid_dagster").joinpath("instance", "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text(with_run_coordinator(template, load_config(stack.config_path).concurrency))
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(base),
        "DAGSTER_HOME": str(home),
        "PAID_CONFIG": str(stack.config_path),
        "PAID_LEDGER_URL": f"sqlite:///{home / 'paid_ledger.sqlite3'}",
        TOKEN_ENV: os.environ[TOKEN_ENV],
        "PAID_SENSOR_INTERVAL": str(sensor_interval),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "MSWEA_SILENT_STARTUP": "1",
        "DAGSTER_DISABLE_TELEMETRY": "yes",
    }
    port = free_port()
    log = base / "dagster-dev.log"
    proc = start_dagster_dev(["-m", MODULE], home, env, log, port)
    url = f"http://127.0.0.1:{port}"
    dev = DagsterDev(url, env, home, log, stack)
    try:
        wait_until(lambda: webserver_up(url, proc, log), 240, what="the Dagster webserver")
        for name in sensors:
            started = dev.dagster("sensor", "start", name)
            assert started.returncode == 0, started.stdout + started.stderr
        yield dev
    finally:
        stop_group(proc, grace_seconds=60)
