"""What a deployment is made of, as data: its services, the files `up` writes, the environment each service gets.

No Docker call here (engine.py makes the containers): the instance's dagster.yaml (PostgreSQL, the queued run
coordinator with Paid's concurrency settings, the DockerRunLauncher, run monitoring), the workspace, and the
paid.yaml the containers read are rendered from a `Deployment`, so tests can read them as they are.
Secrets appear here by *name* only; their values are read from the host's environment when containers start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..concurrency import run_coordinator
from ..config import ConcurrencySettings

CODE_PORT = 4000
UI_PORT = 3000
FORGE_PORT = 8765
MODEL_PORT = 8766
DOCKER_SOCKET = "/var/run/docker.sock"
HOME_IN_CONTAINER = "/opt/dagster/home"
CONFIG_IN_CONTAINER = "/etc/paid/paid.yaml"
PG_USER = "paid"
PG_DB = "paid"
LABEL = "paid.deployment"
# The environment settings a deployment carries over from the host when set there (not secrets).
PASSED_SETTINGS = ("PAID_SENSOR_INTERVAL", "PAID_COSTS_SENSOR_INTERVAL")


@dataclass(frozen=True)
class Deployment:
    name: str  # prefixes every container, the network and the volume
    state_dir: Path  # absolute: generated files, the password, and the run's work (same path on host and in runs)
    image: str
    max_runs: int
    per_repository: int
    secret_names: tuple[str, ...]  # variables read from the host's environment at `up`, passed by name
    ui_port: int = UI_PORT
    offline: bool = False
    forge_port: int = FORGE_PORT
    sample_copies: tuple[str, ...] = ()  # offline: more copies of the forge's sample repository
    settings: dict[str, str] = field(default_factory=dict)  # PASSED_SETTINGS found on the host

    @property
    def network(self) -> str:
        return self.name

    @property
    def volume(self) -> str:
        return f"{self.name}-pgdata"

    def container(self, service: str) -> str:
        return f"{self.name}-{service}"

    def services(self) -> tuple[str, ...]:
        """In the order they start; `down` stops them in reverse."""
        core = ("postgres", "usercode", "daemon", "webserver")
        return (("forge", "model") if self.offline else ()) + core

    # --- the files `up` writes (none holds a secret) ---

    @property
    def password_file(self) -> Path:
        return self.state_dir / "postgres.password"

    @property
    def shared_dirs(self) -> tuple[Path, ...]:
        """Bound at the same path in the code server and the run containers, so that a path a run hands to a
        sibling sandbox container (the working files, the egress socket under TMPDIR) means the same on the host."""
        return (self.state_dir / "work", self.state_dir / "environments", self.state_dir / "tmp")

    def files(self) -> dict[str, str]:
        return {"dagster.yaml": self.instance_yaml(), "workspace.yaml": self.workspace_yaml()}

    def workspace_yaml(self) -> str:
        server = {"host": self.container("usercode"), "port": CODE_PORT, "location_name": "paid"}
        return yaml.safe_dump({"load_from": [{"grpc_server": server}]}, sort_keys=False)

    def instance_yaml(self) -> str:
        return "# Written by `paid deploy up`: no secret here, only the names of variables.\n" + yaml.safe_dump(
            self.instance(), sort_keys=False
        )

    def instance(self) -> dict[str, Any]:
        pg = {
            "username": {"env": "DAGSTER_PG_USERNAME"},
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": {"env": "DAGSTER_PG_HOST"},
            "db_name": {"env": "DAGSTER_PG_DB"},
            "port": {"env": "DAGSTER_PG_PORT"},
            "scheme": "postgresql+psycopg2",
        }
        return {
            "telemetry": {"enabled": False},
            "storage": {"postgres": {"postgres_db": pg}},
            "run_coordinator": run_coordinator(
                ConcurrencySettings(max_runs=self.max_runs, per_repository=self.per_repository)
            ),
            "run_launcher": {
                "module": "paid_dagster.run_launcher",
                "class": "PaidDockerRunLauncher",  # Dagster's DockerRunLauncher; terminate waits for the start
                "config": {
                    "image": self.image,
                    "network": self.network,
                    "env_vars": self.run_env_vars(),
                    "container_kwargs": self.run_container_kwargs(),
                },
            },
            "sensors": {"use_threads": True, "num_workers": 4},  # as in `paid ui`'s instance
            "run_retries": {"enabled": True, "max_retries": 0},
            # The launcher can tell a dead run container (gone or exited) from a running one: monitoring fails
            # its run within poll_interval_seconds, and paid_retry_sensor then starts the next attempt.
            "run_monitoring": {
                "enabled": True,
                "start_timeout_seconds": 180,
                "cancel_timeout_seconds": 180,
                "max_runtime_seconds": 3600,
                "poll_interval_seconds": 10,
            },
        }

    # --- the environment ---

    def plain_env(self) -> dict[str, str]:
        """What every Paid container gets that is no secret."""
        return {
            "DAGSTER_PG_HOST": self.container("postgres"),
            "DAGSTER_PG_USERNAME": PG_USER,
            "DAGSTER_PG_DB": PG_DB,
            "DAGSTER_PG_PORT": "5432",
            "PAID_CONFIG": CONFIG_IN_CONTAINER,
            "TMPDIR": str(self.state_dir / "tmp"),
            **self.settings,
        }

    def run_env_vars(self) -> list[str]:
        """The launcher's env_vars: plain settings with their value, secrets by name (the daemon's value at launch)."""
        # PAID_IN_CONTAINER: the run's host name is its container's id (sandbox/docker.py reaps by it).
        plain = {**self.plain_env(), "PAID_IN_CONTAINER": "1"}
        return [f"{k}={v}" for k, v in plain.items()] + ["DAGSTER_PG_PASSWORD", *self.secret_names]

    def run_container_kwargs(self) -> dict[str, Any]:
        """Each run in its own container, removed when it ends; the Docker socket for its sibling sandbox."""
        return {
            "volumes": [
                f"{DOCKER_SOCKET}:{DOCKER_SOCKET}",
                f"{self.state_dir / 'paid.yaml'}:{CONFIG_IN_CONTAINER}:ro",
                f"{self.state_dir / 'dagster.yaml'}:{HOME_IN_CONTAINER}/dagster.yaml:ro",
                *(f"{d}:{d}" for d in self.shared_dirs),
            ],
            "auto_remove": True,
            "labels": {LABEL: self.name, "paid.role": "run"},
        }

    # --- paid.yaml as the containers read it ---

    def paid_config(self, user_config: dict[str, Any]) -> dict[str, Any]:
        """The user's paid.yaml with the paths the deployment owns: the working files and the prepared
        environments under the state directory, and the deployment's image as the sandbox's unless one is set
        (it holds the same Python and tools as the run, so no host path is mounted into the sandbox)."""
        config = dict(user_config)
        config["work_dir"] = str(self.state_dir / "work")
        config["environments"] = {**(config.get("environments") or {}), "dir": str(self.state_dir / "environments")}
        defaults = dict(config.get("defaults") or {})
        defaults.setdefault("sandbox_image", self.image)
        config["defaults"] = defaults
        return config
