"""The prepared environment: detected from the project's files, installed in the sandbox from the package
registries only (and nothing else), without a secret, cached, and reported plainly when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from paid_dagster.config import SetupSettings
from paid_dagster.preparation import EnvironmentCache, plan_for, prepare_environment
from paid_dagster.sandbox import open_sandbox

CANARY = "sk-setup-canary-0123456789abcdef"


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def cache(tmp: Path) -> EnvironmentCache:
    return EnvironmentCache(tmp / "environments", max_bytes=2 * 1024**3, max_age_days=14)


def test_plans_follow_the_projects_files_and_paid_yaml_wins(tmp_path: Path) -> None:
    uv = project(tmp_path / "uv", {"pyproject.toml": "[project]\nname='x'\n", "uv.lock": ""})
    assert plan_for(uv).source == "detected: uv.lock"  # type: ignore[union-attr]
    reqs = project(
        tmp_path / "reqs",
        {
            "requirements.txt": "six\n",
            "requirements-dev.txt": "pytest\n",
            "pyproject.toml": "[project]\nname='x'\n[project.optional-dependencies]\ntest=['pytest']\n"
            "[dependency-groups]\nlint=['ruff']\ndocs=['sphinx']\n",
        },
    )
    steps = " ; ".join(plan_for(reqs).steps)  # type: ignore[union-attr]
    assert "-r requirements-dev.txt" in steps and "-r requirements.txt" in steps
    assert "'.[test]'" in steps and "--group lint" in steps and "docs" not in steps
    node = project(tmp_path / "node", {"package.json": "{}", "package-lock.json": "{}"})
    assert plan_for(node).steps == ("npm ci --no-audit --no-fund",)  # type: ignore[union-attr]
    assert plan_for(project(tmp_path / "bare", {"README.md": "hi"})) is None
    scripted = project(tmp_path / "scripted", {".paid/setup.sh": "echo hi\n", "package.json": "{}"})
    assert plan_for(scripted).source == ".paid/setup.sh"  # type: ignore[union-attr]
    assert plan_for(scripted, ("make deps",)).steps == ("make deps",)  # type: ignore[union-attr]


def test_an_older_project_whose_tests_are_pytest_s_but_declares_no_test_dependency_gets_pytest(
    tmp_path: Path,
) -> None:
    # six 1.17.0: setup.py with `tests_require=["pytest"]` (which pip never installs) and `[tool:pytest]`.
    six = {"setup.py": "setup(name='six', tests_require=['pytest'])\n", "setup.cfg": "[tool:pytest]\nminversion = 2\n"}
    steps = plan_for(project(tmp_path / "six", six)).steps  # type: ignore[union-attr]
    assert steps[-2:] == (".venv/bin/python -m pip install -q -e .", ".venv/bin/python -m pip install -q pytest")
    declared = {**six, "requirements-test.txt": "pytest==8.0\n"}
    assert "pip install -q pytest" not in " ; ".join(plan_for(project(tmp_path / "d", declared)).steps)  # type: ignore[union-attr]
    untested = {"setup.py": "setup(name='x')\n"}
    assert "pytest" not in " ; ".join(plan_for(project(tmp_path / "u", untested)).steps)  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["bubblewrap", pytest.param("docker", marks=pytest.mark.docker)])
def test_setup_reaches_the_registry_the_agent_cannot_and_a_second_run_installs_nothing(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    files = {
        "requirements.txt": "six==1.17.0\n",
        "setup.py": "from setuptools import setup\nsetup(name='demo', version='1', py_modules=['demo'])\n",
        "demo.py": "import six\n",
        # What setup sees of Paid's environment, and whether it could reach anything but a registry.
        ".paid/setup.sh": "set -e\npython3 -m venv .venv\n.venv/bin/pip install -q -r requirements.txt\n"
        "env > .venv/setup-env.txt\n"
        "python3 -c \"import urllib.request as u; u.urlopen('https://example.com', timeout=5)\" "
        "> .venv/elsewhere.txt 2>&1 || echo refused >> .venv/elsewhere.txt\n",
    }
    first_tree = project(tmp_path / "first" / "repo", files)
    settings = SetupSettings()
    first = prepare_environment(first_tree, settings, kind, "paid-sandbox:bookworm", cache(tmp_path))
    assert first.status == "prepared", first.explained()
    assert any(host.endswith(":443") for host in first.reached) and "example.com:443" in first.refused
    assert CANARY not in (first_tree / ".venv" / "setup-env.txt").read_text()
    assert "refused" in (first_tree / ".venv" / "elsewhere.txt").read_text()
    # The agent phase: the environment is there, the network is not.
    agent = open_sandbox(kind, first_tree)
    try:
        uses = agent.run(".venv/bin/python -c 'import six; print(six.__version__)'", 60)
        assert uses.returncode == 0 and "1.17.0" in uses.output, uses.output
        offline = agent.run(".venv/bin/pip install --timeout 3 --retries 0 six==1.16.0", 60)
        assert offline.returncode != 0
    finally:
        agent.close()
    # A second run on the same files: restored from the cache, nothing installed, nothing reached.
    second_tree = project(tmp_path / "second" / "repo", files)
    second = prepare_environment(second_tree, settings, kind, "paid-sandbox:bookworm", cache(tmp_path))
    assert second.status == "reused" and second.key == first.key and second.reached == ()
    assert second.duration_s < 2.0, second.duration_s
    assert (second_tree / ".venv" / "bin" / "python").exists()


def test_a_setup_that_fails_says_which_step_and_how(tmp_path: Path) -> None:
    tree = project(tmp_path / "repo", {"requirements.txt": "this-package-does-not-exist-paid==0.0.1\n"})
    result = prepare_environment(tree, SetupSettings(), "bubblewrap", "paid-sandbox:bookworm", cache(tmp_path))
    assert result.status == "failed" and result.exit_code != 0
    assert result.failed_step.endswith("-r requirements.txt")
    assert "this-package-does-not-exist-paid" in result.tail
    assert "failed at" in result.explained() and "```" in result.explained()
    assert not list((tmp_path / "environments").glob("*/meta.json")), "a failed setup is not cached"


def test_the_cache_evicts_stale_and_least_recently_used_entries(tmp_path: Path) -> None:
    store = cache(tmp_path)
    for key, size in (("old", 10), ("mid", 20), ("new", 30)):
        tree = tmp_path / key
        (tree / ".venv").mkdir(parents=True)
        (tree / ".venv" / "blob").write_bytes(b"x" * size)
        store.store(key, tree, (".venv",))
    store.max_bytes = 50
    assert store.evict() == ["old"]
    assert store.evict(now=9e12) == ["mid", "new"]
    assert store.entries() == []


def test_a_client_that_hangs_up_mid_transfer_ends_the_tunnel_quietly() -> None:
    """uv drops connections it no longer needs: the proxy's relay must not print a BrokenPipeError traceback."""
    import socket

    from paid_dagster.sandbox.egress import _relay

    client, proxy_side = socket.socketpair()
    upstream, far = socket.socketpair()
    far.close()  # the other end is gone: writing to `upstream` breaks the pipe
    client.sendall(b"x" * 200_000)
    try:
        _relay(proxy_side, upstream)  # returns, raises nothing
    finally:
        for s in (client, proxy_side, upstream):
            s.close()
