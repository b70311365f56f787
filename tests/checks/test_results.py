"""Check results that never lie: real tools in the real sandbox (bubblewrap) on small projects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from paid_dagster.checks.baseline import Baseline, compare
from paid_dagster.checks.discovery import checks_for
from paid_dagster.checks.feedback import feedback, pr_section
from paid_dagster.checks.findings import CheckResult
from paid_dagster.checks.plan import ChecksPlan
from paid_dagster.checks.runner import run_checks
from paid_dagster.sandbox import BubblewrapSandbox

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def run(root: Path) -> dict[str, CheckResult]:
    return {r.check: r for r in run_checks(BubblewrapSandbox(root), root, 120, checks_for(root))}


CI = "jobs:\n  ci:\n    steps:\n      - run: |\n{lines}\n"


def ci(*lines: str) -> str:
    return CI.format(lines="\n".join(f"          {line}" for line in lines))


def test_a_missing_tool_is_not_run_with_why_never_passed(tmp_path: Path) -> None:
    root = write(tmp_path, {".github/workflows/ci.yml": ci("pyright src"), "src/app.py": "x = 1\n"})
    result = run(root)["types"]
    assert result.status == "not run" and result.note == "pyright: command not found in the sandbox"
    assert result.exit_code == 127 and result.command == "pyright src"
    assert "⚠️ not run: pyright: command not found in the sandbox" in pr_section([[result]])


def test_pytest_that_collects_no_test_is_not_a_pass(tmp_path: Path) -> None:
    root = write(
        tmp_path, {".github/workflows/ci.yml": ci("python -m pytest -q"), "app.py": "def f() -> int:\n    return 1\n"}
    )
    result = run(root)["tests"]
    assert result.status == "not run" and result.note == "no tests collected"
    assert result.exit_code == 5 and result.counts["collected"] == 0 and result.runner == "bundled"


def test_an_import_error_before_collection_is_not_run(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            ".github/workflows/ci.yml": ci("python -m pytest -q"),
            "tests/test_a.py": "import not_installed_anywhere\n\n\ndef test_a() -> None:\n    pass\n",
        },
    )
    result = run(root)["tests"]
    assert result.status == "not run" and result.note.startswith("pytest did not run the tests")
    assert result.exit_code == 2 and "not_installed_anywhere" in result.output_tail


def test_every_result_records_command_exit_code_duration_and_the_tool_s_counts(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            ".github/workflows/ci.yml": ci("ruff check .", "python -m pytest -q"),
            "pyproject.toml": "[tool.ruff.lint]\nselect = ['F']\n",
            "app.py": "import os\n",
            "tests/test_app.py": "import pytest\n\n\ndef test_ok() -> None:\n    pass\n\n\n"
            "def test_no() -> None:\n    assert 1 == 2\n\n\n@pytest.mark.skip\ndef test_skip() -> None:\n    pass\n",
        },
    )
    results = run(root)
    tests, lint = results["tests"], results["lint"]
    assert tests.status == "failed" and tests.exit_code == 1 and tests.duration_s > 0
    assert tests.counts == {"collected": 3, "passed": 1, "failed": 1, "errors": 0, "skipped": 1}
    assert tests.command.startswith("python -m pytest -q") and tests.source == ".github/workflows/ci.yml"
    assert lint.status == "failed" and lint.exit_code == 1 and lint.counts == {"error": 1}
    assert lint.findings[0].file == "app.py" and lint.findings[0].rule == "F401"


def test_a_command_with_no_parser_is_decided_by_its_exit_code_and_fed_back_by_its_output(tmp_path: Path) -> None:
    # npm test is read as TAP; a test script that writes none (a bare assert) is decided by its exit code.
    scripts = {"test": "node test/sum.test.js"}
    files = {
        "package.json": json.dumps({"name": "x", "scripts": scripts}),
        "test/sum.test.js": "const assert = require('node:assert');\nassert.strictEqual(1 + 1, 3, 'sums');\n",
    }
    root = write(tmp_path, files)
    before = run(root)["tests"]
    assert before.status == "failed" and before.exit_code == 1 and before.parser == "tap" and not before.findings
    (root / "test/sum.test.js").write_text(files["test/sum.test.js"].replace("1 + 1, 3", "1 + 1, 2"))
    after = run(root)["tests"]
    assert after.status == "passed" and after.exit_code == 0 and after.source == "package.json"
    # Against a passing baseline, the failure is this change's doing: fed back with the end of the output.
    compare([before], Baseline("k", [after]))
    told = feedback([before], 2, 3)
    assert before.worse and "failed with exit code 1" in told and "sums" in told


def test_the_baseline_is_run_once_per_base_commit_and_environment(tmp_path: Path) -> None:
    root = write(tmp_path / "repo", {"pyproject.toml": "[tool.ruff]\n", "app.py": "import os\n"})
    cache = tmp_path / "cache"
    plan = ChecksPlan(base_commit="a" * 40, cache_dir=cache)
    first = plan.prepare(BubblewrapSandbox(root), root, 60)
    assert not first.cached and [r.status for r in first.results] == ["failed"]
    again = ChecksPlan(base_commit="a" * 40, cache_dir=cache).prepare(BubblewrapSandbox(root), root, 60)
    assert again.cached and again.key == first.key and again.results[0].findings == first.results[0].findings
    other = ChecksPlan(base_commit="a" * 40, environment_key="env-2", cache_dir=cache)
    assert not other.prepare(BubblewrapSandbox(root), root, 60).cached


def test_a_baseline_that_cannot_run_at_all_says_so(tmp_path: Path) -> None:
    root = write(tmp_path, {".github/workflows/ci.yml": ci("pyright src")})
    plan = ChecksPlan(base_branch="trunk")
    baseline = plan.prepare(BubblewrapSandbox(root), root, 60)
    assert baseline.problem == "types: pyright: command not found in the sandbox"
    assert plan.baseline_event("r1")["status"] == "could not run"
    section = pr_section([plan.run_round(BubblewrapSandbox(root), root, 60)], "trunk", baseline)
    assert section.count("could not run on `trunk`") == 1
