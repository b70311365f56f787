"""The deployment's rendered files: a Dagster instance really made from them (on the private PostgreSQL), the
queue's limits taken from paid.yaml, secrets named and never written, paths that mean the same everywhere."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from paid_dagster.commands.deploy import secret_names
from paid_dagster.config import parse_config
from paid_dagster.deployment.engine import read_password, write_files
from paid_dagster.deployment.layout import CONFIG_IN_CONTAINER, Deployment
from tests.databases import postgres_database

CANARY = "ghp_canary" + uuid.uuid4().hex  # a token's value: must appear in no file the deployment writes


def deployment(state: Path, **overrides: object) -> Deployment:
    values: dict[str, object] = {
        "name": "paid-layout",
        "state_dir": state,
        "image": "paid-deploy:test",
        "max_runs": 5,
        "per_repository": 1,
        "secret_names": ("GITHUB_TOKEN", "ANTHROPIC_API_KEY"),
    }
    values.update(overrides)
    return Deployment(**values)  # type: ignore[arg-type]


@pytest.fixture
def own_database() -> Iterator[dict[str, str]]:
    """A database of its own on the private cluster, dropped afterwards; DAGSTER_PG_* naming it."""
    with postgres_database("paid_deploy") as url:
        parsed = urlparse(url)
        yield {
            "DAGSTER_PG_HOST": parsed.hostname or "",
            "DAGSTER_PG_PORT": str(parsed.port or 5432),
            "DAGSTER_PG_USERNAME": parsed.username or "",
            "DAGSTER_PG_PASSWORD": parsed.password or "",
            "DAGSTER_PG_DB": parsed.path.lstrip("/"),
        }


@pytest.mark.postgres
def test_dagster_makes_the_instance_from_the_rendered_file(
    tmp_path: Path, own_database: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterInstance
    from dagster_docker import DockerRunLauncher

    from paid_dagster.run_launcher import PaidDockerRunLauncher
    from paid_dagster.run_queue import PaidRunCoordinator

    d = deployment(tmp_path / "state")
    write_files(d, d.paid_config({"repositories": [{"name": "o/r"}]}))
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((d.state_dir / "dagster.yaml").read_text())
    for key, value in own_database.items():
        monkeypatch.setenv(key, value)
    instance = DagsterInstance.from_config(str(home))
    try:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, PaidRunCoordinator)  # the queue `paid ui` uses: UI launches get their repo
        assert coordinator.get_run_queue_config().max_concurrent_runs == 5
        limits = coordinator.get_run_queue_config().tag_concurrency_limits
        assert limits == [
            {"key": "paid/repo", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            {"key": "paid/build_of", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
        ]
        launcher = instance.run_launcher
        assert isinstance(launcher, DockerRunLauncher) and isinstance(launcher, PaidDockerRunLauncher)
        assert launcher.image == "paid-deploy:test"
        assert launcher.networks == ["paid-layout"]
        assert launcher.container_kwargs["auto_remove"] is True
        assert instance.run_monitoring_enabled
        assert launcher.supports_check_run_worker_health  # what lets monitoring fail a dead run's container
    finally:
        instance.dispose()


def test_the_queue_limits_come_from_paid_yaml(tmp_path: Path) -> None:
    config = parse_config({"concurrency": {"max_runs": 7, "per_repository": 3}, "repositories": [{"name": "o/r"}]})
    d = deployment(tmp_path, max_runs=config.concurrency.max_runs, per_repository=config.concurrency.per_repository)
    queue = yaml.safe_load(d.instance_yaml())["run_coordinator"]["config"]
    assert queue["max_concurrent_runs"] == 7
    assert queue["tag_concurrency_limits"][0]["limit"] == 3


def test_secrets_are_named_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    config = parse_config(
        {"model": {"api_key_env": "ANTHROPIC_API_KEY"}, "secret_env": ["EXTRA_KEY"], "repositories": [{"name": "o/r"}]}
    )
    names = secret_names(config)
    assert set(names) >= {"GITHUB_TOKEN", "ANTHROPIC_API_KEY", "EXTRA_KEY"}
    d = deployment(tmp_path / "state", secret_names=names)
    password = read_password(d)
    write_files(d, d.paid_config({"repositories": [{"name": "o/r"}]}))
    env_vars = yaml.safe_load(d.instance_yaml())["run_launcher"]["config"]["env_vars"]
    assert "GITHUB_TOKEN" in env_vars and "DAGSTER_PG_PASSWORD" in env_vars  # by name: the daemon's value
    assert not any(v.startswith(("GITHUB_TOKEN=", "DAGSTER_PG_PASSWORD=")) for v in env_vars)
    for path in d.state_dir.rglob("*"):
        if path.is_file() and path != d.password_file:
            text = path.read_text()
            assert CANARY not in text, path
            assert password not in text, path
    assert d.password_file.stat().st_mode & 0o777 == 0o600
    assert read_password(d) == password  # kept: the database was made with it


def test_paths_a_run_hands_to_a_sibling_sandbox_mean_the_same_on_the_host(tmp_path: Path) -> None:
    d = deployment(tmp_path / "state")
    config = d.paid_config({"work_dir": "relative/work", "repositories": [{"name": "o/r"}]})
    assert config["work_dir"] == str(d.state_dir / "work")
    assert config["defaults"]["sandbox_image"] == d.image  # the run's own Python and tools, no host path mounted
    mounts = d.run_container_kwargs()["volumes"]
    for shared in d.shared_dirs:
        assert f"{shared}:{shared}" in mounts
    assert f"{d.state_dir / 'paid.yaml'}:{CONFIG_IN_CONTAINER}:ro" in mounts
    assert "TMPDIR" in dict(v.split("=", 1) for v in d.run_env_vars() if "=" in v)  # the egress socket's directory
    own = d.paid_config({"defaults": {"sandbox_image": "mine:1"}, "repositories": [{"name": "o/r"}]})
    assert own["defaults"]["sandbox_image"] == "mine:1"


def test_names_are_prefixed_and_offline_adds_the_stand_ins(tmp_path: Path) -> None:
    d = deployment(tmp_path)
    assert d.services() == ("postgres", "usercode", "daemon", "webserver")
    offline = deployment(tmp_path, offline=True)
    assert offline.services()[:2] == ("forge", "model")
    assert all(re.fullmatch(r"paid-layout-\w+", offline.container(s)) for s in offline.services())
