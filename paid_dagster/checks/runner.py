"""Which checks a repository gets, and running them in the sandbox with the project's own configuration."""

from __future__ import annotations

import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..sandbox import Sandbox
from . import parsers
from .findings import CheckResult, Finding

REPORTS = ".paid-checks"


@dataclass(frozen=True)
class Check:
    name: str
    tool: str
    command: str
    parse: Callable[[str], list[Finding]]
    report: str | None = None  # a file the tool writes (under REPORTS) instead of stdout


def _has_table(path: Path, table: str) -> bool:
    return path.is_file() and f"[{table}" in path.read_text(errors="replace")


def detect_languages(root: Path) -> list[str]:
    """Languages by marker files at the repository root."""
    found = []
    if any((root / m).exists() for m in ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt")):
        found.append("python")
    if (root / "package.json").exists():
        found.append("typescript" if (root / "tsconfig.json").exists() else "javascript")
    if (root / "go.mod").exists():
        found.append("go")
    if (root / "Cargo.toml").exists():
        found.append("rust")
    if (root / "Gemfile").exists() or (root / ".rubocop.yml").exists():
        found.append("ruby")
    return found


def python_checks(root: Path) -> list[Check]:
    checks = [Check("lint", "ruff", "ruff check --output-format=json --exit-zero .", parsers.ruff_json)]
    pyproject = root / "pyproject.toml"
    if _has_table(pyproject, "tool.mypy") or (root / "mypy.ini").exists() or _has_table(root / "setup.cfg", "mypy"):
        checks.append(Check("types", "mypy", "mypy --output json --no-error-summary .", parsers.mypy_json))
    if (root / "tests").is_dir() or _has_table(pyproject, "tool.pytest") or (root / "pytest.ini").exists():
        report = f"{REPORTS}/pytest.xml"
        checks.append(
            Check(
                "tests",
                "pytest",
                f"python3 -m pytest -q -p no:cacheprovider -o junit_family=xunit1 --junitxml={report}",
                parsers.junit_xml,
                report,
            )
        )
    return checks


def node_checks(root: Path, typescript: bool) -> list[Check]:
    checks = [Check("lint", "eslint", "npx --no-install eslint -f json .", parsers.eslint_json)]
    if typescript:
        checks.append(Check("types", "tsc", "npx --no-install tsc --noEmit --pretty false", parsers.tsc))
    return checks


def checks_for(root: Path) -> list[Check]:
    checks: list[Check] = []
    for language in detect_languages(root):
        if language == "python":
            checks += python_checks(root)
        elif language in ("javascript", "typescript"):
            checks += node_checks(root, language == "typescript")
        elif language == "go":
            checks += [
                Check("vet", "go vet", "go vet ./... 2>&1", parsers.go_vet),
                Check("tests", "go test", "go test -json ./...", parsers.go_test_json),
            ]
        elif language == "rust":
            checks += [
                Check("lint", "clippy", "cargo clippy --quiet --message-format=json", parsers.cargo_json),
                Check("tests", "cargo test", "cargo test 2>&1", parsers.cargo_test),
            ]
        elif language == "ruby":
            checks += [Check("lint", "rubocop", "rubocop --format json", parsers.rubocop_json)]
            if (root / "spec").is_dir():
                checks.append(Check("tests", "rspec", "rspec --format json", parsers.rspec_json))
    return checks


def run_check(check: Check, sandbox: Sandbox, root: Path, timeout: int) -> CheckResult:
    started = time.monotonic()
    (root / REPORTS).mkdir(exist_ok=True)
    (root / REPORTS).chmod(0o777)  # the sandbox's user may differ from Paid's (Docker runs as uid 1000)
    tool = shlex.split(check.command)[0]

    def not_run(note: str) -> CheckResult:
        return CheckResult(check.name, check.tool, "error", [], time.monotonic() - started, note)

    result = sandbox.run(check.command, timeout)
    try:
        if result.returncode == 127 or f"{tool}: command not found" in result.output:
            return not_run(f"{check.tool} is not available in the sandbox")
        if result.timed_out:
            return not_run(f"{check.tool} timed out after {timeout} s")
        text = result.output
        if check.report:
            report = root / check.report
            if not report.exists():
                return not_run(f"{check.tool} wrote no report: {result.output[-300:]}")
            text = report.read_text(errors="replace")
        findings = check.parse(text)
    except (ValueError, KeyError) as exc:
        return not_run(f"could not read {check.tool}'s output: {exc}")
    finally:
        shutil.rmtree(root / REPORTS, ignore_errors=True)
    failing = [f for f in findings if f.severity == "error"]
    return CheckResult(check.name, check.tool, "failed" if failing else "passed", findings, time.monotonic() - started)


def run_checks(sandbox: Sandbox, root: Path, timeout: int = 300) -> list[CheckResult]:
    return [run_check(check, sandbox, root, timeout) for check in checks_for(root)]
