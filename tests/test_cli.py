"""`paid doctor`, `paid init`, `paid forge serve` and paid.yaml's validation, as a user meets them."""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from paid_standins.forge import Forge, seed_sample
from paid_standins.stack import stack_config
from pydantic import ValidationError

import paid_dagster
from paid_dagster.cli import as_from_a_shell
from paid_dagster.config import ConfigError, GitHubSettings, load_config, parse_config
from paid_dagster.secrets import SECRETS

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
    top_level_list = problems_of("- a/b\n")
    assert any("`paid init` writes an example" in p for p in top_level_list)
    assert not any("paid.example.yaml" in p for p in top_level_list)  # no such file ships
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


def test_config_problems_name_the_file_the_key_what_was_expected_and_what_was_given() -> None:
    assert problems_of("limits: {max_turns: lots, wall_time_seconds: -1, loop_repeats: 2.5}\nrepositories: [a/b]") == [
        "paid.yaml: limits.max_turns: expected a number ≥ 0, got 'lots'",
        "paid.yaml: limits.wall_time_seconds: expected a number ≥ 0, got -1",
        "paid.yaml: limits.loop_repeats: expected a whole number ≥ 0, got 2.5",
    ]
    assert problems_of("github: {retries: '3', base_url: 5}\nmodel: {fallbacks: x}\nrepositories: [a/b]") == [
        "paid.yaml: github.base_url: expected text, got 5",
        "paid.yaml: github.retries: expected a number ≥ 0, got '3'",
        "paid.yaml: model.fallbacks: expected a list of model names, got 'x'",
    ]
    (typo,) = problems_of("modle: {}\nrepositories: [a/b]")
    assert typo.startswith("paid.yaml: unknown key 'modle' (did you mean 'model'? known keys: checks, ")
    assert ", model, " in typo and ", repositories, " in typo
    (section,) = problems_of("limits: {max_turn: 3}\nrepositories: [a/b]")
    assert section.startswith("paid.yaml: limits: unknown key 'max_turn' (did you mean 'max_turns'? known keys:")
    assert problems_of("quality: {enabld: true}\nrepositories: [a/b]") == [
        "paid.yaml: quality: unknown key 'enabld' (did you mean 'enabled'? known keys: enabled, max_rounds,"
        " timeout_seconds)"
    ]
    assert problems_of("repositories: [{name: a/b, sandbox: dockr, engine: codex}, 5, {engine: aider}, x]") == [
        "paid.yaml: repositories[0].sandbox: expected one of 'auto', 'docker', 'bubblewrap' or 'local', got 'dockr'",
        "paid.yaml: repositories[1]: expected `owner/name` or a mapping with a `name`, got 5",
        "paid.yaml: repositories[2].name: required, but missing",
        "paid.yaml: repositories[3].name: expected `owner/repository`, got 'x'",
    ]
    assert problems_of("repositories: [{name: a/b, trusted_permissions: [], trigger_label: 'a,b', triage: maybe}]") == [
        "paid.yaml: repositories[0].trigger_label: expected a label name without commas, got 'a,b'",
        "paid.yaml: repositories[0].trusted_permissions: expected some of read, triage, write, maintain, admin,"
        " got none (then nobody could start Paid)",
        "paid.yaml: repositories[0].triage: expected true or false, got 'maybe'",
    ]
    assert problems_of(
        "repositories: [{name: a/b, risk_policy: [x, {glob: a, tier: top}, {glob: a, tier: low, why: 1}]}]"
    ) == [
        "paid.yaml: repositories[0].risk_policy[0]: expected a rule {glob: 'src/**', tier: low|medium|high}, got 'x'",
        "paid.yaml: repositories[0].risk_policy[1].tier: expected one of 'low', 'medium' or 'high', got 'top'",
        "paid.yaml: repositories[0].risk_policy[2]: unknown key 'why' (known keys: glob, tier)",
    ]
    # a bad default is said once, where it is written, not once per repository
    assert problems_of("defaults: {sandbox: dockr}\nrepositories: [a/b, c/d]") == [
        "paid.yaml: defaults.sandbox: expected one of 'auto', 'docker', 'bubblewrap' or 'local', got 'dockr'"
    ]
    assert problems_of("defaults: 3\nsecret_env: X\nnotifier: {kind: mail}\nrepositories: [a/b]") == [
        "paid.yaml: notifier.kind: expected one of 'log' or 'webhook', got 'mail'",
        "paid.yaml: secret_env: expected a list of environment variable names, got 'X'",
        "paid.yaml: defaults: expected a mapping of settings, got 3",
    ]
    assert problems_of("repositories: a/b") == [
        "paid.yaml: repositories: expected a list of `owner/name` entries, got 'a/b'"
    ]
    assert problems_of("- a/b") == ["paid.yaml: expected a mapping at the top level (`paid init` writes an example)"]


def test_config_sections_defaults_and_old_names() -> None:
    config = parse_config(
        yaml.safe_load(
            "github:\nmodel: {fallbacks: }\nquality: {max_rounds: 1}\n"
            "defaults: {engine: codex, risk_policy: [{glob: 'docs/*', tier: low}]}\n"
            "repositories: [a/b, {name: c/d, engine: aider}]"
        )
    )
    assert config.github == GitHubSettings() and config.model.fallbacks == ()
    assert config.checks.max_rounds == 1  # `quality:` is the old name of `checks:`
    assert [(r.engine, r.risk_policy) for r in config.repositories] == [
        ("codex", ({"glob": "docs/*", "tier": "low"},)),
        ("aider", ({"glob": "docs/*", "tier": "low"},)),
    ]
    with pytest.raises(ValidationError):
        config.limits.max_turns = 3  # type: ignore[misc]  # settings are frozen: change a copy
    assert config.limits.model_copy(update={"max_turns": 3}).max_turns == 3 != config.limits.max_turns


def test_load_config_resolves_relative_directories_and_registers_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAID_TEST_EXTRA_VALUE", "plain-looking-value-42")
    path = tmp_path / "conf" / "paid.yaml"
    path.parent.mkdir()
    path.write_text(
        "secret_env: [PAID_TEST_EXTRA_VALUE]\nwork_dir: work\n"
        "repositories: [{name: a/b, prompts_dir: prompts}, {name: c/d, prompts_dir: /abs}]"
    )
    config = load_config(path)
    assert config.work_dir == str(tmp_path / "conf" / "work") and config.source == str(path)
    assert [r.prompts_dir for r in config.repositories] == [str(tmp_path / "conf" / "prompts"), "/abs"]
    assert "plain-looking-value-42" not in SECRETS.mask("the value plain-looking-value-42 leaked")


def test_every_settings_class_is_in_config_which_imports_no_domain_module() -> None:
    root = Path(paid_dagster.__file__).parent
    tree = ast.parse((root / "config.py").read_text())
    assert {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level} == {"secrets"}
    elsewhere = [
        f"{path.relative_to(root)}: {node.name}"
        for path in root.rglob("*.py")
        if path.name != "config.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name.endswith(("Settings", "Limits", "Weights"))
    ]
    assert elsewhere == []


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

        config["models"] = {"allowed": [config["model"]["name"], "openai/homebrew-7b"]}
        path.write_text(yaml.safe_dump(config))
        unpriced = paid("doctor", "--config", str(path), env=token)
        assert unpriced.returncode == 1 and "litellm has no price for openai/homebrew-7b" in unpriced.stdout
        assert "under models.catalogue in paid.yaml" in unpriced.stdout
        del config["models"]

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
        preexec_fn=as_from_a_shell,
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


@dataclass
class InstalledWheel:
    venv: Path
    elsewhere: Path  # a directory outside the checkout to run it from
    env: dict[str, str]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """The wheel alone (package data, no checkout): built from a copy of the sources and installed into a fresh
    venv outside the checkout. Its dependencies are this environment's (a path entry: the .pth files there,
    which put the checkout's own editable paid_dagster on the path, are not processed from it)."""
    import shutil
    import sysconfig

    tmp_path = tmp_path_factory.mktemp("wheel")
    root = Path(__file__).resolve().parent.parent
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    shutil.copytree(root / "paid_dagster", source / "paid_dagster", ignore=shutil.ignore_patterns("__pycache__"))
    # The demo's stand-ins are a distribution of their own, installed beside the product as `make demo` does.
    shutil.copytree(root / "standins", source / "standins", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip"]
    for project in (source, source / "standins"):
        built = subprocess.run(
            [*pip, "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(project)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("paid_dagster-*.whl")
    (standins_wheel,) = (tmp_path / "dist").glob("paid_standins-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel), str(standins_wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", purelib], text=True).strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    unset = ("PAID_CONFIG", "PAID_FORGE_TOKEN", "DAGSTER_HOME", "PAID_LEDGER_URL", "PYTHONPATH", "PAID_DEMO_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    for package in ("paid_dagster", "paid_standins"):  # the wheels' code, not the checkout's
        where = subprocess.run(
            [str(python), "-c", f"import {package}; print({package}.__file__)"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert where.startswith(str(venv)), where
    return InstalledWheel(venv, elsewhere, env)


def test_an_installed_wheel_runs_the_demo_outside_the_checkout(installed_wheel: InstalledWheel) -> None:
    import sqlite3

    demo = subprocess.run(
        [str(installed_wheel.venv / "bin" / "paid"), "demo", "--forge-port", "0", "--model-port", "0"],
        cwd=installed_wheel.elsewhere,
        env=installed_wheel.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "pull request : http://127.0.0.1:" in demo.stdout, demo.stdout
    state = installed_wheel.elsewhere / ".paid"  # the current directory's, not the package's
    assert (state / "dagster_home" / "dagster.yaml").read_text().startswith("# Dagster instance settings for Paid")
    with sqlite3.connect(state / "stack" / "forge" / "forge.sqlite3") as db:
        pulls = db.execute("SELECT p.draft, i.state FROM pulls p JOIN issues i ON i.id = p.issue_id").fetchall()
    assert pulls == [(1, "open")]  # one draft pull request, open
    # The rollups are materialized by the demo, so that the UI shows them (not "never materialized").
    with sqlite3.connect(state / "dagster_home" / "paid_ledger.sqlite3") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"paid_quality_score", "paid_llm_costs", "paid_project_spend", "paid_prompt_outcomes"} <= tables
        assert db.execute("SELECT COUNT(*) FROM paid_llm_costs").fetchone()[0] >= 1
    assert "paid_costs[" in demo.stdout and "failed" not in demo.stdout.split("rollups")[1].split("pull request")[0]


def test_an_installed_wheel_serves_the_ui_outside_the_checkout(installed_wheel: InstalledWheel) -> None:

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["ui", "--dir", str(installed_wheel.elsewhere / "ui"), "--forge-port", "0", "--model-port", "0"]
    proc = subprocess.Popen(
        [str(installed_wheel.venv / "bin" / "paid"), *args, "--ui-port", str(port)],
        cwd=installed_wheel.elsewhere,
        env=installed_wheel.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=as_from_a_shell,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        keys: list[str] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "review" not in keys:
            assert proc.poll() is None, "paid ui exited"
            time.sleep(1)
            try:
                answer = requests.post(
                    f"{url}/graphql", json={"query": "{ assetNodes { assetKey { path } } }"}, timeout=5
                )
                keys = [n["assetKey"]["path"][-1] for n in answer.json()["data"]["assetNodes"]]
            except (requests.RequestException, KeyError, TypeError, ValueError):
                continue
        assert {"github_issue", "triage", "agent_run", "pull_request", "review", "llm_costs"} <= set(keys)
        # A SIGTERM of `paid ui` alone (not its group) takes every Dagster process it started with it.
        children = _descendants(proc.pid)
        assert children, "paid ui started no process"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
        time.sleep(1)
        left = [pid for pid in children if _alive(pid)]
        assert left == [], f"processes of paid ui survived its SIGTERM: {left}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())
