"""The deployment's images: tags that change with what goes in and only then; a build that takes the machine's
pip settings without keeping them, and nothing of the host's environment."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import docker
import pytest

from paid_dagster.deployment import images
from paid_dagster.deployment.images import app_tag, base_tag, source_root

ROOT = source_root()


def fake_root(tmp: Path) -> Path:
    root = tmp / "root"
    (root / "deploy").mkdir(parents=True)
    for name in ("install-base.sh", "install-app.sh", "postgres-entrypoint.sh"):
        shutil.copy(ROOT / "deploy" / name, root / "deploy" / name)
    shutil.copy(ROOT / "requirements.lock", root / "requirements.lock")
    (root / "pyproject.toml").write_text("[project]\nname='x'\n")
    (root / "README.md").write_text("x")
    (root / "paid_dagster").mkdir()
    (root / "paid_dagster" / "a.py").write_text("A = 1\n")
    (root / "standins").mkdir()
    return root


def test_tags_follow_what_goes_in(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    base, app = base_tag(root, "sha256:1"), app_tag(root, "base:1")
    assert base == base_tag(root, "sha256:1") and app == app_tag(root, "base:1")  # stable: a second up reuses
    (root / "paid_dagster" / "__pycache__").mkdir()
    (root / "paid_dagster" / "__pycache__" / "a.pyc").write_bytes(b"\0")
    assert app_tag(root, "base:1") == app  # caches are not sources
    (root / "paid_dagster" / "a.py").write_text("A = 2\n")
    assert app_tag(root, "base:1") != app and base_tag(root, "sha256:1") == base  # code: only the top layer
    (root / "requirements.lock").write_text((root / "requirements.lock").read_text() + "six==1.16.0\n")
    assert base_tag(root, "sha256:1") != base
    assert base_tag(root, "sha256:2") != base_tag(root, "sha256:1")  # a rebuilt sandbox image


@pytest.mark.docker
def test_a_build_keeps_neither_the_hosts_environment_nor_its_pip_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "ghp_" + uuid.uuid4().hex
    monkeypatch.setenv("GITHUB_TOKEN", canary)
    (tmp_path / "probe.sh").write_text("env > /probe-env.txt\n")
    client = docker.from_env()
    tag = f"paid-probe-{uuid.uuid4().hex[:8]}:test"
    images._build(client, images.SANDBOX_BASE, tag, tmp_path, "probe.sh", network=False)
    try:
        built = client.images.get(tag)
        config = str(built.attrs["Config"])
        assert canary not in config
        assert (
            "PIP_" not in config
            and "/run/paid-build" not in config
            and "/build" not in str(built.attrs["Config"].get("Volumes"))
        )
        seen = client.containers.run(tag, ["cat", "/probe-env.txt"], remove=True).decode()
        assert canary not in seen  # the build ran without the host's environment
        if Path("/etc/pip.conf").exists():
            assert "PIP_CONFIG_FILE=/run/paid-build/pip.conf" in seen  # ... but with the machine's pip settings
            kept = client.containers.run(
                tag, ["sh", "-c", "cat /run/paid-build/pip.conf 2>/dev/null | wc -c"], remove=True
            )
            assert kept.decode().strip() == "0"  # which stayed out of the image
    finally:
        client.images.remove(tag, force=True)
