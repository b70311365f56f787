"""`paid deploy` as a user meets it before anything runs: a missing token or paid.yaml is said, not half-started."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from .conftest import paid


def test_up_against_github_needs_the_token_in_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "paid.yaml"
    config.write_text("github:\n  token_env: PAID_TEST_ABSENT_TOKEN\nrepositories:\n  - name: o/r\n")
    env = {k: v for k, v in os.environ.items() if k != "PAID_TEST_ABSENT_TOKEN"}
    name = f"paid-c{uuid.uuid4().hex[:6]}"
    result = paid("deploy", "up", "--config", str(config), "--name", name, "--dir", str(tmp_path / "s"), env=env)
    assert result.returncode != 0
    assert "PAID_TEST_ABSENT_TOKEN" in result.stderr and "not set" in result.stderr
    assert not (tmp_path / "s").exists()  # nothing written, nothing started


def test_up_says_which_key_of_paid_yaml_is_wrong(tmp_path: Path) -> None:
    config = tmp_path / "paid.yaml"
    config.write_text("concurrency:\n  max_run: 3\nrepositories:\n  - name: o/r\n")
    result = paid("deploy", "up", "--config", str(config), "--dir", str(tmp_path / "s"))
    assert result.returncode != 0 and "max_run" in result.stderr


@pytest.mark.docker
def test_status_of_a_deployment_that_is_not_there(tmp_path: Path) -> None:
    result = paid("deploy", "status", "--name", f"paid-none{uuid.uuid4().hex[:6]}", "--dir", str(tmp_path))
    assert result.returncode == 1 and "nothing running" in result.stdout
