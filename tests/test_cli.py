"""`paid doctor`, `paid init`, `paid forge serve` and paid.yaml's validation, as a user meets them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from paid_standins.forge import Forge, seed_sample
from paid_standins.stack import stack_config

from paid_dagster.config import ConfigError, load_config, parse_config

PAID = str(Path(sys.executable).parent / "paid")


def paid(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("PAID_CONFIG", "PAID_FORGE_TOKEN", "DAGSTER_HOME")}
    return subprocess.run(
        [PAID, *args], capture_output=True, text=True, env={**base, **(env or {})}, timeout=120, check=False
    )


def problems_of(text: str) -> list[str]:
    try:
        load_config_text(text)
    except ConfigError as exc:
        return exc.problems
    return []


def load_config_text(text: str) -> None:
    parse_config(yaml.safe_load(text), "paid.yaml")


def test_config_errors_say_where_and_what_to_do(tmp_path: Path) -> None:
    assert any("repositories: list at least one" in p for p in problems_of("github: {}\n"))
    assert any("unknown key 'colour'" in p and "known keys" in p for p in problems_of("colour: 1\nrepositories: [a/b]"))
    assert any(
        "trusted_permissions" in p for p in problems_of("repositories: [{name: a/b, trusted_permissions: [god]}]")
    )
    assert any("engine" in p for p in problems_of("repositories: [{name: a/b, engine: skynet}]"))
    assert any(
        "max_turns: expected a number" in p for p in problems_of("limits: {max_turns: lots}\nrepositories: [a/b]")
    )
    assert any("expected `owner/repository`" in p for p in problems_of("repositories: [justaname]"))
    bad = tmp_path / "paid.yaml"
    bad.write_text("repositories:\n  - a/b\n   bad: [\n")
    with pytest.raises(ConfigError) as error:
        load_config(bad)
    assert "not valid YAML at line" in str(error.value)
    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path / "nope.yaml")
    assert "paid init" in str(missing.value)
    good = parse_config(
        yaml.safe_load("defaults: {trigger_label: go}\nrepositories: [a/b, {name: c/d, trigger_label: x}]")
    )
    assert [r.trigger_label for r in good.repositories] == ["go", "x"]


def test_init_writes_a_file_doctor_understands(tmp_path: Path) -> None:
    target = tmp_path / "paid.yaml"
    assert paid("init", str(target)).returncode == 0
    assert load_config(target).repositories[0].name == "your-org/your-repo"
    assert paid("init", str(target)).returncode == 1  # never overwrites without --force


def test_doctor_reports_each_problem_with_its_fix(tmp_path: Path) -> None:
    with Forge(tmp_path / "forge") as forge:
        seed = seed_sample(forge)
        config = stack_config(forge.url, "http://127.0.0.1:9/v1", seed.repo, tmp_path / "work", "bubblewrap")
        path = tmp_path / "paid.yaml"
        path.write_text(yaml.safe_dump(config))
        home = {"DAGSTER_HOME": str(tmp_path)}

        out = paid("doctor", "--config", str(path), env=home)
        assert (
            out.returncode == 1
            and "PAID_FORGE_TOKEN is not set" in out.stdout
            and "export PAID_FORGE_TOKEN" in out.stdout
        )

        token = {"PAID_FORGE_TOKEN": forge.token(seed.bot), **home}
        ok = paid("doctor", "--config", str(path), env=token)
        assert ok.returncode == 0 and "all good" in ok.stdout and f"{seed.repo} (write)" in ok.stdout

        bad_token = paid("doctor", "--config", str(path), env={**home, "PAID_FORGE_TOKEN": "ghp_wrong"})
        assert bad_token.returncode == 1 and "rejected the token" in bad_token.stdout

        config["repositories"].append({"name": "octo-org/ghost"})
        path.write_text(yaml.safe_dump(config))
        unknown = paid("doctor", "--config", str(path), env=token)
        assert (
            unknown.returncode == 1
            and "octo-org/ghost" in unknown.stdout
            and "check the repository name" in unknown.stdout
        )

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        config["github"]["base_url"] = f"http://127.0.0.1:{closed}"
        config["github"]["retries"] = 0
        path.write_text(yaml.safe_dump(config))
        down = paid("doctor", "--config", str(path), env=token)
        assert down.returncode == 1 and "cannot reach GitHub" in down.stdout

        path.write_text("repositories: [a/b]\nmodle: {}\n")
        typo = paid("doctor", "--config", str(path), env=token)
        assert typo.returncode == 1 and "unknown key 'modle'" in typo.stdout


def test_forge_serve_runs_standalone(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [PAID, "forge", "serve", "--dir", str(tmp_path / "f"), "--seed", "sample", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("}"):
                break
        info = json.loads("".join(lines))
        token = info["tokens"]["wendy-writer"]
        repo = requests.get(
            f"{info['url']}/repos/{info['repo']}", headers={"Authorization": f"token {token}"}, timeout=10
        )
        assert repo.status_code == 200 and repo.json()["clone_url"].endswith("/octo-org/shopcart.git")
        issue = requests.get(f"{info['url']}/repos/{info['repo']}/issues/1", timeout=10).json()
        assert "first item" in issue["title"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
