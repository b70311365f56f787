"""Escape attempts fail in every sandbox backend, and the test says which attempt and how it failed."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paid_dagster.sandbox import OUTPUT_CAP, Sandbox, open_sandbox

BACKENDS = ["bubblewrap", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(params=BACKENDS)
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / "README.md").write_text("hello\n")
    box = open_sandbox(request.param, worktree)
    yield box, worktree
    box.close()


@pytest.fixture
def host_service() -> Iterator[int]:
    """A TCP service on the host's 127.0.0.1 that answers anyone who reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.sendall(b"reached the host\n")
                conn.close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    server.close()


def test_commands_work_in_the_worktree(sandbox: tuple[Sandbox, Path]) -> None:
    box, worktree = sandbox
    result = box.run("cat README.md && echo made > new.txt && python3 -c 'print(6 * 7)'", 60)
    assert result.returncode == 0 and "hello" in result.output and "42" in result.output
    assert (worktree / "new.txt").read_text() == "made\n"


def test_network_is_off(sandbox: tuple[Sandbox, Path], host_service: int) -> None:
    box, _ = sandbox
    probe = (
        f"python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', {host_service}), 3);"
        ' print(s.recv(100))"'
    )
    result = box.run(probe, 60)
    assert "reached the host" not in result.output and result.returncode != 0, "the host's service was reachable"
    listing = box.run("tail -n +3 /proc/net/dev", 30).output
    interfaces = [line.split(":")[0].strip() for line in listing.splitlines() if ":" in line]
    assert interfaces == ["lo"], f"interfaces other than loopback: {interfaces}"


def test_the_host_environment_and_secrets_stay_outside(
    sandbox: tuple[Sandbox, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, _ = sandbox
    secret = "ghp_" + "S3cr3t" * 6
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    token_file = tmp_path / "token.txt"
    token_file.write_text(secret)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("secret: yes\n")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    env = box.run("env; cat /proc/1/environ; cat /proc/self/environ", 30).output
    assert secret not in env and "DAGSTER_HOME" not in env, "the host's environment leaked into the sandbox"
    for path in (token_file, dagster_home / "dagster.yaml", Path("/root/.bash_history"), Path("/etc/shadow")):
        result = box.run(f"cat {path}", 30)
        assert secret not in result.output and "secret: yes" not in result.output, f"read {path}"
        assert result.returncode != 0, f"{path} was readable in the sandbox"


def test_a_program_put_in_tmp_runs(sandbox: tuple[Sandbox, Path]) -> None:
    """Setup installs tools in /tmp (uv, for a project with uv.lock): Docker's tmpfs is noexec unless told."""
    box, _ = sandbox
    result = box.run("printf '#!/bin/sh\\necho ran from tmp\\n' > /tmp/tool && chmod +x /tmp/tool && /tmp/tool", 30)
    assert result.returncode == 0 and "ran from tmp" in result.output, result.output


def test_nothing_outside_the_worktree_is_writable(sandbox: tuple[Sandbox, Path], tmp_path: Path) -> None:
    box, _ = sandbox
    outside = tmp_path / "outside.txt"
    for target in ("/usr/pwned", "/etc/pwned", str(outside), "/pwned"):
        result = box.run(f"echo x > {target}", 30)
        assert result.returncode != 0, f"wrote {target}"
    assert not outside.exists() and not Path("/usr/pwned").exists() and not Path("/etc/pwned").exists()


def test_a_fork_bomb_is_contained(sandbox: tuple[Sandbox, Path]) -> None:
    box, _ = sandbox
    started = time.monotonic()
    result = box.run("bomb() { bomb | bomb & }; bomb; sleep 4; echo survived", 15)
    assert time.monotonic() - started < 40
    peak = getattr(box, "last_peak_pids", None)
    assert peak is None or peak <= box.pids, f"{peak} processes ran at once, above the limit of {box.pids}"  # type: ignore[attr-defined]
    assert "fork" in result.output.lower() or "resource temporarily unavailable" in result.output.lower(), (
        result.output[-500:]
    )
    assert box.run("echo still alive", 30).output.strip() == "still alive"
    assert os.system("true") == 0  # the host can still start processes


def test_unbounded_output_is_cut(sandbox: tuple[Sandbox, Path]) -> None:
    box, _ = sandbox
    started = time.monotonic()
    result = box.run("yes 'all work and no play'", 60)
    assert result.truncated and len(result.output) <= OUTPUT_CAP + 200
    assert time.monotonic() - started < 30


@pytest.mark.docker
def test_sandboxes_of_a_vanished_run_are_reaped(tmp_path: Path) -> None:
    import docker

    from paid_dagster.sandbox import DEFAULT_IMAGE, DockerSandbox

    client = docker.from_env()
    orphan = client.containers.run(
        DEFAULT_IMAGE,
        ["sleep", "infinity"],
        detach=True,
        auto_remove=True,
        network_mode="none",
        labels={"paid.sandbox": "1", "paid.owner_pid": "999999"},
    )
    worktree = tmp_path / "w"
    worktree.mkdir()
    box = DockerSandbox(worktree)
    try:
        time.sleep(1)
        running = [c.id for c in client.containers.list(filters={"label": "paid.sandbox=1"})]
        assert orphan.id not in running and box._container.id in running
    finally:
        box.close()


def test_bubblewrap_dies_with_its_parent(tmp_path: Path) -> None:
    """Ending the process that runs a sandbox (a Dagster run) ends the sandbox."""
    import subprocess
    import sys

    worktree = tmp_path / "w"
    worktree.mkdir()
    marker = f"300.{os.getpid()}"  # this test's sleep, not any other process's
    script = (
        "import sys; from pathlib import Path; from paid_dagster.sandbox import BubblewrapSandbox;"
        f"BubblewrapSandbox(Path({str(worktree)!r})).run('echo started > started; sleep {marker}', 600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not (worktree / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (worktree / "started").exists()
    parent.kill()
    parent.wait()

    def sandboxed_sleep_alive() -> bool:
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        return any(line.strip() == f"sleep {marker}" for line in ps.splitlines())

    deadline = time.monotonic() + 30  # the kernel tears the namespace down asynchronously (slower under load)
    while sandboxed_sleep_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not sandboxed_sleep_alive(), "the sandbox outlived the process that ran it"


def test_cpu_is_capped_at_one_core(sandbox: tuple[Sandbox, Path]) -> None:
    """Two busy processes for 2 s of wall time get about 2 s of CPU between them, not 4."""
    box, _ = sandbox
    script = (
        "import os, time, resource\n"
        "pids = [os.fork() for _ in range(1)]\n"
        "end = time.time() + 2\n"
        "while time.time() < end: pass\n"
        "if pids[0] == 0: os._exit(0)\n"
        "os.wait()\n"
        "u = resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime\n"
        "print(f'cpu={u:.2f}')\n"
    )
    result = box.run(f'python3 -c "{script}"', 60)
    used = float(result.output.split("cpu=")[1].split()[0])
    assert used < 2.8, f"{used:.2f} s of CPU in 2 s of wall time: more than one core"


@pytest.mark.docker
def test_a_sandbox_opened_from_a_run_container_lives_as_long_as_that_container(tmp_path: Path) -> None:
    """A deployment's run opens its sandbox as a sibling container: the owner's pid means nothing outside its pid
    namespace, so the sandbox is kept while the owner's container runs and reaped once it is gone; a sandbox
    of a process elsewhere (not in a container of this engine) is never taken for an orphan."""
    import docker

    from paid_dagster.sandbox import DEFAULT_IMAGE, DockerSandbox

    client = docker.from_env()

    def sleeper(labels: dict[str, str]) -> Any:
        return client.containers.run(
            DEFAULT_IMAGE, ["sleep", "infinity"], detach=True, auto_remove=True, network_mode="none", labels=labels
        )

    run = sleeper({})  # stands for a deployment's run container
    owned = {"paid.sandbox": "1", "paid.owner_pid": "1", "paid.owner_in_container": "1"}
    of_run = sleeper({**owned, "paid.owner_host": run.id[:12]})
    elsewhere = sleeper({**owned, "paid.owner_host": "another-host", "paid.owner_in_container": "0"})
    worktree = tmp_path / "w"
    worktree.mkdir()
    try:
        DockerSandbox(worktree).close()
        running = {c.id for c in client.containers.list(filters={"label": "paid.sandbox=1"})}
        assert of_run.id in running and elsewhere.id in running
        run.kill()
        DockerSandbox(worktree).close()
        time.sleep(1)
        running = {c.id for c in client.containers.list(filters={"label": "paid.sandbox=1"})}
        assert of_run.id not in running and elsewhere.id in running
    finally:
        for container in (run, of_run, elsewhere):
            with contextlib.suppress(Exception):
                container.kill()
