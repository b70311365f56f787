"""Which checks a repository gets, and running them in the sandbox with the project's own configuration."""

from __future__ import annotations

import re
import shlex
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..safe_text import clean
from ..sandbox import CommandResult, Sandbox, scrubbed_environment, toolchain_path
from . import parsers
from .findings import FAILED, NOT_RUN, PASSED, CheckResult, Finding, severity_counts

REPORTS = ".paid-checks"


@dataclass(frozen=True)
class Check:
    name: str
    tool: str
    command: str
    parse: Callable[[str], list[Finding]]
    report: str | None = None  # a file the tool writes (under REPORTS) instead of stdout
    kind: str = "other"  # tests | lint | types | check | other
    source: str = "bundled"  # where it came from: bundled (Paid's detection), a project file, paid.yaml


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
    checks = [Check("lint", "ruff", "ruff check --output-format=json --exit-zero .", parsers.ruff_json, kind="lint")]
    pyproject = root / "pyproject.toml"
    if _has_table(pyproject, "tool.mypy") or (root / "mypy.ini").exists() or _has_table(root / "setup.cfg", "mypy"):
        checks.append(
            Check("types", "mypy", "mypy --output json --no-error-summary .", parsers.mypy_json, kind="types")
        )
    if (root / "tests").is_dir() or _has_table(pyproject, "tool.pytest") or (root / "pytest.ini").exists():
        report = f"{REPORTS}/pytest.xml"
        checks.append(
            Check(
                "tests",
                "pytest",
                f"python3 -m pytest -q -p no:cacheprovider -o junit_family=xunit1 --junitxml={report}",
                parsers.junit_xml,
                report,
                kind="tests",
            )
        )
    return checks


def node_checks(root: Path, typescript: bool) -> list[Check]:
    checks = [Check("lint", "eslint", "npx --no-install eslint -f json .", parsers.eslint_json, kind="lint")]
    if typescript:
        checks.append(Check("types", "tsc", "npx --no-install tsc --noEmit --pretty false", parsers.tsc, kind="types"))
    return checks


def bundled_checks(root: Path) -> list[Check]:
    """Paid's own choice of tools by the languages found: the fallback when the project says nothing."""
    checks: list[Check] = []
    for language in detect_languages(root):
        if language == "python":
            checks += python_checks(root)
        elif language in ("javascript", "typescript"):
            checks += node_checks(root, language == "typescript")
        elif language == "go":
            checks += [
                Check("vet", "go vet", "go vet ./... 2>&1", parsers.go_vet, kind="lint"),
                Check("tests", "go test", "go test -json ./...", parsers.go_test_json, kind="tests"),
            ]
        elif language == "rust":
            checks += [
                Check("lint", "clippy", "cargo clippy --quiet --message-format=json", parsers.cargo_json, kind="lint"),
                Check("tests", "cargo test", "cargo test 2>&1", parsers.cargo_test, kind="tests"),
            ]
        elif language == "ruby":
            checks += [Check("lint", "rubocop", "rubocop --format json", parsers.rubocop_json, kind="lint")]
            if (root / "spec").is_dir():
                checks.append(Check("tests", "rspec", "rspec --format json", parsers.rspec_json, kind="tests"))
    return checks


# --- running one check, and saying honestly what happened ---------------------------------------------

TAIL = 2000
PROJECT_TOOL_DIRS = (".venv/bin", "venv/bin", "node_modules/.bin")  # the project's own tools, preferred
# What a shell, npm's `sh` or make says when a program is missing.
NOT_FOUND = re.compile(
    r"^(?:bash: (?:line \d+: )?(?P<bash>\S+): command not found"
    r"|sh: \d+: (?P<sh>\S+): not found"
    r"|make: (?P<make>\S+): No such file or directory|make: \*\*\* \[.*\] Error 127)\s*$",
    re.M,
)
PYTEST_NOT_RUN = {2: "interrupted (errors during collection)", 3: "pytest's internal error", 4: "usage error"}


def check_environment(root: Path) -> dict[str, str]:
    """PATH with the project's own tool directories first (its `.venv/bin`, `node_modules/.bin`), as
    seen inside the sandbox at /workspace, then Paid's bundled tools and the system's."""
    dirs = [f"/workspace/{d}" for d in PROJECT_TOOL_DIRS if (root / d).is_dir()]
    return {"PATH": ":".join([*dirs, scrubbed_environment(extra_path=toolchain_path())["PATH"]])}


def executable(command: str) -> str:
    """The program a command line starts: after `cd dir &&`, `VAR=value` and `npx`, and `python -m X` as X."""
    try:
        words = shlex.split(command.split("&&")[-1] if command.startswith("cd ") else command)
    except ValueError:
        return ""
    words = [w for w in words if not re.match(r"^[A-Z_][A-Z0-9_]*=", w)]
    if words and words[0] == "npx":
        words = [w for w in words[1:] if not w.startswith("-")]
    return words[0] if words else ""


def runner_of(root: Path, command: str) -> str:
    """Whose tool a command runs: the project's (its environment), Paid's bundled one, or the system's."""
    program = executable(command)
    if program and any((root / d / program).exists() for d in PROJECT_TOOL_DIRS):
        return "project"
    bundled = toolchain_path()
    if program and bundled and (Path(bundled) / program).exists():
        return "bundled"
    return "system"


def not_run_reason(check: Check, result: CommandResult, timeout: int) -> str:
    if result.timed_out:
        return f"timed out after {timeout} s"
    missing = NOT_FOUND.search(result.output)
    if result.returncode == 127 or (missing and result.returncode != 0):
        tool = (missing and (missing["bash"] or missing["sh"] or missing["make"])) or check.tool
        return f"{tool}: command not found in the sandbox"
    if result.returncode == 126:
        return f"{check.tool} could not be executed"
    if check.tool == "pytest" and result.returncode in PYTEST_NOT_RUN and check.report:
        return f"pytest did not run the tests: {PYTEST_NOT_RUN[result.returncode]}"
    return ""


def counts_for(check: Check, text: str, output: str, findings: list[Finding]) -> dict[str, int]:
    if check.parse is parsers.junit_xml:
        return parsers.junit_counts(text)
    if check.kind == "tests":
        return (parsers.tap_counts(output) if check.parse is parsers.tap else {}) or parsers.pytest_counts(output)
    return severity_counts(findings)


def judge(
    check: Check, result: CommandResult, root: Path, timeout: int
) -> tuple[str, list[Finding], dict[str, int], str]:
    """(status, findings, counts, note): passed only when the tool really ran, and found nothing wrong."""
    text = result.output
    if check.report and (root / check.report).is_file():
        text = (root / check.report).read_text(errors="replace")
    elif check.report:
        reason = (
            not_run_reason(check, result, timeout) or f"{check.tool} wrote no report (exit code {result.returncode})"
        )
        return NOT_RUN, [], {}, reason
    try:
        findings = [replace(f, file=f.file.removeprefix("/workspace/")) for f in check.parse(text)]
        counts = counts_for(check, text, result.output, findings)
    except (ValueError, KeyError, TypeError, ET.ParseError) as exc:
        reason = not_run_reason(check, result, timeout)
        return NOT_RUN, [], {}, reason or f"could not read {check.tool}'s output: {type(exc).__name__}: {exc}"
    reason = not_run_reason(check, result, timeout)
    if reason:
        return NOT_RUN, findings, counts, reason
    if check.kind == "tests" and counts.get("collected") == 0:
        return NOT_RUN, findings, counts, "no tests collected"
    if any(f.severity == "error" for f in findings):
        return FAILED, findings, counts, ""
    if result.returncode != 0:
        return FAILED, findings, counts, f"exit code {result.returncode}"
    return PASSED, findings, counts, ""


def run_check(check: Check, sandbox: Sandbox, root: Path, timeout: int) -> CheckResult:
    started = time.monotonic()
    (root / REPORTS).mkdir(exist_ok=True)
    (root / REPORTS).chmod(0o777)  # the sandbox's user may differ from Paid's (Docker runs as uid 1000)
    if check.report:
        (root / check.report).unlink(missing_ok=True)  # never a stale report
    try:
        result = sandbox.run(check.command, timeout, env=check_environment(root))
        status, findings, counts, note = judge(check, result, root, timeout)
    finally:
        shutil.rmtree(root / REPORTS, ignore_errors=True)
        if check.report:
            (root / check.report).unlink(missing_ok=True)  # a report elsewhere must not reach the commit
    return CheckResult(
        check.name,
        check.tool,
        status,
        findings,
        time.monotonic() - started,
        note,
        kind=check.kind,
        command=check.command,
        exit_code=None if result.timed_out else result.returncode,
        counts=counts,
        source=check.source,
        runner=runner_of(root, check.command),
        parser=next((name for name, parse in parsers.PARSERS.items() if parse is check.parse), "custom"),
        output_tail=clean(result.output[-TAIL:], TAIL),
    )


def run_checks(
    sandbox: Sandbox, root: Path, timeout: int = 300, checks: list[Check] | None = None
) -> list[CheckResult]:
    """The given checks (by default, those the project's files name, else Paid's bundled ones), in the sandbox."""
    chosen = checks if checks is not None else bundled_checks(root)
    return [run_check(check, sandbox, root, timeout) for check in chosen]
