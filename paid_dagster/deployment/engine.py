"""The deployment's containers, through the Docker SDK for Python (no compose tool needed): up, down, status, logs.

Each service is one container on the deployment's network, labelled `paid.deployment=<name>`; runs are launched
by the daemon's DockerRunLauncher into containers with the same label (`paid.role=run`), removed when they end.
Secret values (the PostgreSQL password, the GitHub token, model keys) are read at `up` from the state
directory's 0600 password file and the host's environment and given to the containers' environment; no file
`up` writes and no image holds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .layout import (
    CODE_PORT,
    CONFIG_IN_CONTAINER,
    DOCKER_SOCKET,
    FORGE_PORT,
    HOME_IN_CONTAINER,
    LABEL,
    MODEL_PORT,
    PG_DB,
    PG_USER,
    UI_PORT,
    Deployment,
)

Log = Callable[[str], None]
FORGE_DATA = "/data/forge"
SERVICES = ("forge", "model", "postgres", "usercode", "daemon", "webserver", "run")
FORGE_TOKEN_ENV = "PAID_FORGE_TOKEN"  # the offline stack's token variable (paid_standins.stack.TOKEN_ENV)


class DeployError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServiceState:
    role: str
    name: str
    status: str
    run_id: str = ""


def read_password(deployment: Deployment) -> str:
    """The PostgreSQL password: generated on the first `up`, kept in the state directory with mode 0600."""
    path = deployment.password_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
    os.chmod(path, 0o600)
    return path.read_text().strip()


def write_files(deployment: Deployment, paid_config: dict[str, Any]) -> None:
    deployment.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(deployment.state_dir, 0o700)
    for directory in deployment.shared_dirs:
        directory.mkdir(parents=True, exist_ok=True)
    for name, text in deployment.files().items():
        (deployment.state_dir / name).write_text(text)
    (deployment.state_dir / "paid.yaml").write_text(yaml.safe_dump(paid_config, sort_keys=False))


def up(
    client: Any,
    deployment: Deployment,
    user_config: dict[str, Any],
    secret_values: dict[str, str],
    log: Log = print,
) -> None:
    """Every service running with the current image; the ones already running with it are left alone."""
    password = read_password(deployment)
    deployment.state_dir.mkdir(parents=True, exist_ok=True)
    _ensure_network(client, deployment)
    _ensure_volume(client, deployment)
    secret_env = {**secret_values, "DAGSTER_PG_PASSWORD": password}
    if deployment.offline:
        for service in ("forge", "model"):
            _ensure_container(client, deployment, service, secret_env, log)
        secret_env[FORGE_TOKEN_ENV] = forge_token(deployment)
    write_files(deployment, deployment.paid_config(user_config))
    for service in ("postgres", "usercode", "daemon", "webserver"):
        _ensure_container(client, deployment, service, secret_env, log)
        _wait_ready(client, deployment, service)
    _start_sensors(client, deployment)
    log(f"Dagster UI on http://127.0.0.1:{deployment.ui_port}")


def forge_token(deployment: Deployment, timeout: float = 60.0) -> str:
    """The bot's token, from the seed the forge container writes into the state directory once it serves."""
    seed_file = deployment.state_dir / "forge" / "sample-seed.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if seed_file.exists() and _port_open("127.0.0.1", deployment.forge_port):
            with contextlib.suppress(ValueError):
                seed = json.loads(seed_file.read_text())
                return str(seed["tokens"][seed["bot"]])
        time.sleep(0.5)
    raise DeployError(f"the forge did not start: see `paid deploy logs forge` ({seed_file} missing)")


def down(client: Any, deployment: Deployment, volumes: bool = False, log: Log = print) -> None:
    """Every container of the deployment (services, runs, and the sandboxes of its runs), then its network; the
    database's volume too with `volumes`."""
    run_hosts: set[str] = set()
    for _ in range(3):  # again for what the daemon launched while it was being removed
        containers = _containers(client, deployment)
        if not containers:
            break
        run_hosts |= {c.id[:12] for c in containers if c.labels.get("paid.role") == "run"}
        # The daemon first: it launches run containers, and one launched during `down` would be left behind.
        for container in sorted(containers, key=lambda c: c.labels.get("paid.role") != "daemon"):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                log(f"removed {container.name}")
    for sandbox in client.containers.list(all=True, filters={"label": "paid.sandbox=1"}):
        if sandbox.labels.get("paid.owner_host") in run_hosts:
            with contextlib.suppress(Exception):
                sandbox.remove(force=True)
    _remove(client.networks, deployment.network)
    if volumes:
        _remove(client.volumes, deployment.volume)


def status(client: Any, deployment: Deployment) -> list[ServiceState]:
    return [
        ServiceState(c.labels.get("paid.role", "?"), c.name, c.status, c.labels.get("dagster/run_id", ""))
        for c in _containers(client, deployment)
    ]


RUNS_SCRIPT = """
import json
from dagster import DagsterInstance
instance = DagsterInstance.get()
print(json.dumps([
    {
        "run_id": r.dagster_run.run_id,
        "job": r.dagster_run.job_name,
        "status": r.dagster_run.status.value,
        "tags": dict(r.dagster_run.tags),
        "created": r.create_timestamp.timestamp(),
        "started": r.start_time,
        "ended": r.end_time,
    }
    for r in instance.get_run_records()
]))
"""


def runs(client: Any, deployment: Deployment) -> list[dict[str, Any]]:
    """The instance's runs, newest first (id, job, status, tags; created, started and ended as Unix times, the last
    two None until then), asked inside the webserver's container (the database is not published on the host)."""
    container = client.containers.get(deployment.container("webserver"))
    code, output = container.exec_run(["python3", "-c", RUNS_SCRIPT], demux=True)
    stdout, stderr = output
    if code != 0:
        raise DeployError(f"listing runs failed: {(stderr or b'').decode(errors='replace')[-2000:]}")
    return list(json.loads((stdout or b"[]").decode().strip().splitlines()[-1]))


def logs(client: Any, deployment: Deployment, service: str, tail: int = 200, follow: bool = False) -> Iterator[bytes]:
    container = client.containers.get(deployment.container(service))
    if follow:
        yield from container.logs(stream=True, follow=True, tail=tail)
    else:
        yield container.logs(tail=tail)


# --- containers ---


def _containers(client: Any, deployment: Deployment) -> list[Any]:
    found = client.containers.list(all=True, filters={"label": f"{LABEL}={deployment.name}"})
    order = {service: i for i, service in enumerate(SERVICES)}
    return sorted(found, key=lambda c: order.get(c.labels.get("paid.role", ""), len(order)))


def _ensure_network(client: Any, deployment: Deployment) -> None:
    from docker.errors import NotFound

    try:
        client.networks.get(deployment.network)
    except NotFound:
        client.networks.create(deployment.network, driver="bridge", labels={LABEL: deployment.name})


def _ensure_volume(client: Any, deployment: Deployment) -> None:
    from docker.errors import NotFound

    try:
        client.volumes.get(deployment.volume)
    except NotFound:
        client.volumes.create(deployment.volume, labels={LABEL: deployment.name})


def _remove(collection: Any, name: str) -> None:
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        collection.get(name).remove()


def _ensure_container(client: Any, deployment: Deployment, service: str, secret_env: dict[str, str], log: Log) -> None:
    """Running with the deployment's image: kept; stopped, killed or on another image: made again (the state
    is in the volume and the state directory, never in a service's container)."""
    from docker.errors import NotFound

    name = deployment.container(service)
    try:
        existing = client.containers.get(name)
    except NotFound:
        existing = None
    if existing is not None:
        same_image = existing.image.tags and deployment.image in existing.image.tags
        if existing.status == "running" and same_image:
            return
        existing.remove(force=True)
    client.containers.run(deployment.image, name=name, detach=True, **_spec(deployment, service, secret_env))
    log(f"started {name}")


def _spec(deployment: Deployment, service: str, secret_env: dict[str, str]) -> dict[str, Any]:
    """The container's command, environment, mounts and ports."""
    state = deployment.state_dir
    home = {
        str(state / "dagster.yaml"): {"bind": f"{HOME_IN_CONTAINER}/dagster.yaml", "mode": "ro"},
        str(state / "workspace.yaml"): {"bind": f"{HOME_IN_CONTAINER}/workspace.yaml", "mode": "ro"},
    }
    socket_mount = {DOCKER_SOCKET: {"bind": DOCKER_SOCKET, "mode": "rw"}}
    config = {str(state / "paid.yaml"): {"bind": CONFIG_IN_CONTAINER, "mode": "ro"}}
    shared = {str(d): {"bind": str(d), "mode": "rw"} for d in deployment.shared_dirs}
    env = {**deployment.plain_env(), **secret_env}
    workspace = f"{HOME_IN_CONTAINER}/workspace.yaml"
    common: dict[str, Any] = {
        "network": deployment.network,
        "labels": {LABEL: deployment.name, "paid.role": service},
        "restart_policy": {"Name": "unless-stopped"},
    }
    if service == "postgres":
        pg_env = {"DAGSTER_PG_USERNAME": PG_USER, "DAGSTER_PG_DB": PG_DB}
        pg_env["DAGSTER_PG_PASSWORD"] = secret_env["DAGSTER_PG_PASSWORD"]
        return {
            **common,
            "command": ["paid-postgres"],
            "user": "postgres",
            "environment": pg_env,
            "volumes": {deployment.volume: {"bind": "/var/lib/paid-postgres", "mode": "rw"}},
            "tmpfs": {"/tmp": "rw,size=64m"},
        }
    if service == "usercode":
        grpc = ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(CODE_PORT), "-m", "paid_dagster.definitions"]
        return {
            **common,
            "command": grpc,
            "environment": {**env, "DAGSTER_CURRENT_IMAGE": deployment.image},
            "volumes": {**home, **config, **shared},
        }
    if service == "daemon":
        # The launcher reads the secrets it passes on by name from this environment, and runs containers
        # through the Docker socket; run monitoring asks the same socket whether a run's container lives.
        return {
            **common,
            "command": ["dagster-daemon", "run", "-w", workspace],
            "environment": env,
            "volumes": {**home, **config, **socket_mount},
        }
    if service == "webserver":
        # The socket: terminating a run from the UI stops its container.
        ui = ["dagster-webserver", "-h", "0.0.0.0", "-p", str(UI_PORT), "-w", workspace]
        pg_only = {k: v for k, v in env.items() if k.startswith(("DAGSTER_PG_", "PAID_")) or k == "TMPDIR"}
        return {
            **common,
            "command": ui,
            "environment": pg_only,
            "volumes": {**home, **socket_mount},
            "ports": {f"{UI_PORT}/tcp": ("127.0.0.1", deployment.ui_port)},
        }
    if service == "forge":
        serve = ["paid", "forge", "serve", "--dir", FORGE_DATA, "--seed", "sample"]
        serve += [arg for name in deployment.sample_copies for arg in ("--copy", name)]
        return {
            **common,
            "command": [*serve, "--host", "0.0.0.0", "--port", str(FORGE_PORT)],
            "volumes": {str(state / "forge"): {"bind": FORGE_DATA, "mode": "rw"}},
            "ports": {f"{FORGE_PORT}/tcp": ("127.0.0.1", deployment.forge_port)},
        }
    if service == "model":
        serve = ["paid", "model", "serve", "--script", "demo", "--host", "0.0.0.0", "--port", str(MODEL_PORT)]
        return {**common, "command": serve}
    raise DeployError(f"unknown service {service!r}")


def _wait_ready(client: Any, deployment: Deployment, service: str, timeout: float = 180.0) -> None:
    checks = {
        "postgres": ["/usr/lib/postgresql/15/bin/pg_isready", "-h", "127.0.0.1", "-U", PG_USER],
        "usercode": ["dagster", "api", "grpc-health-check", "-p", str(CODE_PORT)],
    }
    deadline = time.monotonic() + timeout
    container = client.containers.get(deployment.container(service))
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            tail = container.logs(tail=30).decode(errors="replace")
            raise DeployError(f"{container.name} exited:\n{tail}")
        if service in checks:
            if container.exec_run(checks[service]).exit_code == 0:
                return
        elif service == "webserver":
            if _answers(f"http://127.0.0.1:{deployment.ui_port}/server_info"):
                return
        else:
            return
        time.sleep(1)
    raise DeployError(f"{container.name} not ready after {timeout:.0f} s: see `paid deploy logs {service}`")


def _start_sensors(client: Any, deployment: Deployment) -> None:
    """The label and PR sensors, stopped by default in the code, are what a deployment is for: started here."""
    daemon = client.containers.get(deployment.container("daemon"))
    for sensor in ("paid_label_sensor", "paid_pr_sensor"):
        result = daemon.exec_run(["dagster", "sensor", "start", sensor, "-w", f"{HOME_IN_CONTAINER}/workspace.yaml"])
        if result.exit_code != 0:
            raise DeployError(f"starting {sensor} failed: {result.output.decode(errors='replace')[-1000:]}")


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def default_state_dir() -> Path:
    return (Path(os.environ.get("PAID_DEMO_DIR") or ".paid") / "deploy").resolve()
