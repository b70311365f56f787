"""The checks loop on a project's own checks, with a baseline: what was already failing on the base branch is
never the agent's to fix, and what its change broke is fed back by name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from paid_standins.forge import Forge, seed_sample
from paid_standins.model import Script, ScriptedModelServer
from paid_standins.stack import stack_config

from paid_dagster.config import parse_config
from paid_dagster.github.client import GitHubClient
from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger

from .harness import SUBMIT, Harness, bash

REPO = "octo-org/widgets"
TITLE = "Add a greeting helper"
WORKFLOW = (
    "name: CI\non: [push]\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - uses: actions/checkout@v4\n      - run: pip install -e .\n"
    "      - run: |\n          ruff check .\n          python -m mypy widgets\n          python -m pytest -q\n"
)
PROJECT = {
    ".github/workflows/ci.yml": WORKFLOW,
    "pyproject.toml": "[project]\nname = 'widgets'\nversion = '0.1.0'\n\n[tool.ruff.lint]\nselect = ['F']\n\n"
    "[tool.mypy]\nignore_missing_imports = true\n\n[tool.pytest.ini_options]\npythonpath = ['.']\n",
    "widgets/__init__.py": "",
    # Already broken on main: an unused import (ruff F401) and a wrong return type (mypy).
    "widgets/legacy.py": "import json\n\n\ndef size() -> int:\n    return 'big'\n",
    "tests/test_widgets.py": "from widgets.legacy import size\n\n\ndef test_size() -> None:\n    assert size()\n",
}
GREETING = "def greet(name: str) -> str:\n    return f'Hello, {name}!'\n"
GREETING_TEST = (
    "from widgets.greeting import greet\n\n\ndef test_greet() -> None:\n    assert greet('Ada') == 'Hello, Ada!'\n"
)
PLANTED = "def test_planted() -> None:\n    assert 1 + 1 == 3, 'planted'\n"


def write(path: str, text: str) -> dict[str, str]:
    return bash(f"mkdir -p $(dirname {path}) && cat > {path} <<'PY'\n{text}PY", f"Write {path}.")


@contextmanager
def project(tmp: Path, script: dict[str, Any]) -> Iterator[Harness]:
    """The forge with a small Python project whose CI runs ruff, mypy and pytest, and one issue on it."""
    with Forge(tmp / "forge") as forge, ScriptedModelServer(Script.load(script)) as model:
        seed = seed_sample(forge)
        forge.create_repo(REPO, PROJECT)
        forge.grant(REPO, seed.bot, "write")
        forge.as_user(seed.writer).create_issue(REPO, TITLE, "Add `widgets.greeting.greet(name)`, with a test.")
        data = stack_config(forge.url, model.api_base, REPO, tmp / "work", "bubblewrap")
        data["github"]["token_env"] = "PAID_HARNESS_TOKEN"
        config = parse_config(data)
        os.environ["PAID_HARNESS_TOKEN"] = forge.token(seed.bot)
        ledger = Ledger(f"sqlite:///{tmp / 'ledger.sqlite3'}")
        client = GitHubClient(config.github, forge.token(seed.bot))
        yield Harness(forge, seed.__class__(REPO, 1, *list(seed.__dict__.values())[2:]), model, config, ledger, client)


def events(h: Harness, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in h.ledger.read(stream=issue_key(REPO, 1), kinds=[kind])]


def test_what_already_failed_on_main_is_never_fed_back_and_is_listed_apart(tmp_path: Path) -> None:
    turns = [write("widgets/greeting.py", GREETING), write("tests/test_greeting.py", GREETING_TEST), SUBMIT]
    with project(tmp_path, {"conversations": [{"match": TITLE, "turns": turns}]}) as h:
        run = h.run()
        assert run.outcome == "completed" and run.check_rounds == 1
        assert run.checks_summary["status"] == "already_failing" and run.checks_summary["new_errors"] == 0
        assert run.checks_summary["already_failing"] == 2 and run.checks_summary["base"] == "main"
        assert not [c for c in h.model.calls if "QUALITY FEEDBACK" in c.last_user_message]
        baseline = events(h, "checks.baseline")
        assert len(baseline) == 1 and baseline[0]["status"] == "ran" and not baseline[0]["cached"]
        checks = {c["check"]: c for c in events(h, "checks.ran")[0]["checks"]}
        assert checks["lint"]["status"] == "failed" and checks["lint"]["worse"] is False
        assert checks["lint"]["already"][0]["rule"] == "F401" and checks["lint"]["source"] == ".github/workflows/ci.yml"
        assert checks["types"]["already"][0]["file"] == "widgets/legacy.py" and checks["types"]["worse"] is False
        assert checks["tests"]["status"] == "passed" and checks["tests"]["counts"]["collected"] == 2
        published = h.publish(run)
        assert published is not None
        body = h.client.repo(REPO).get_pull(published.number).body
        assert "Already failing on `main` (not counted against this change):" in body
        assert "widgets/legacy.py:1 – `json` imported but unused (F401)" in body
        assert "Incompatible return value type" in body and "lint (ruff): ➖ failing as on `main`" in body


def test_a_planted_failing_test_is_fed_back_by_its_id_and_its_revert_passes(tmp_path: Path) -> None:
    first = [write("widgets/greeting.py", GREETING), write("tests/test_planted.py", PLANTED), SUBMIT]
    revert = [bash("rm tests/test_planted.py", "Remove the wrong test."), SUBMIT]
    script = {"conversations": [{"match": "QUALITY FEEDBACK", "turns": revert}, {"match": TITLE, "turns": first}]}
    with project(tmp_path, script) as h:
        run = h.run()
        assert run.check_rounds == 2 and run.checks_summary["status"] == "already_failing"
        rounds = events(h, "checks.ran")
        tests = [{c["check"]: c for c in r["checks"]}["tests"] for r in rounds]
        assert tests[0]["worse"] is True and tests[0]["new"][0]["rule"] == "tests.test_planted.test_planted"
        assert tests[0]["counts"] == {"collected": 2, "passed": 1, "failed": 1, "errors": 0, "skipped": 0}
        assert tests[1]["status"] == "passed" and tests[1]["counts"]["collected"] == tests[1]["counts"]["passed"] == 1
        fed_back = next(c.last_user_message for c in h.model.calls if "QUALITY FEEDBACK" in c.last_user_message)
        assert "tests.test_planted.test_planted" in fed_back and "1 new failing test(s)" in fed_back
        assert "F401" not in fed_back and "legacy" not in fed_back
        assert "1 test(s) collected: 1 passed, 0 failed" in run.checks_report
