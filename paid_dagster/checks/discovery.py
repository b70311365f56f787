"""What the project itself runs, read from its own files: its CI workflow steps, package.json scripts, tox and
nox, Makefile targets, pyproject tool sections and pre-commit hooks, in that order of preference; paid.yaml's
`checks:` of the repository replaces all of it, and Paid's bundled tools are the fallback when nothing is found.

A later source only adds checks of a kind (tests, lint, types) that no earlier source gave.
"""

from __future__ import annotations

import ast
import configparser
import json
import re
import shlex
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from ..config import CheckCommand
from . import parsers
from .findings import Finding
from .runner import REPORTS, Check, bundled_checks, executable

WRAPPERS = (("uv", "run"), ("poetry", "run"), ("pdm", "run"), ("pipenv", "run"), ("rye", "run"), ("bundle", "exec"))
NEVER = re.compile(r"\b(install|publish|deploy|release|upload|twine|docker)\b")
TEST_TOOLS = {"pytest", "py.test", "tox", "nox", "jest", "vitest", "mocha", "rspec", "ava", "tap"}
LINT_TOOLS = {"ruff", "flake8", "pylint", "black", "isort", "eslint", "rubocop", "golangci-lint", "prettier"}
TYPE_TOOLS = {"mypy", "pyright", "tsc"}
SCRIPT_KINDS = {"test": "tests", "lint": "lint", "typecheck": "types", "type-check": "types", "types": "types"}
MAKE_TARGETS = {"test": "tests", "tests": "tests", "lint": "lint", "check": "check", "typecheck": "types"}
SHELL_OPERATORS = re.compile(r"[|;&<>`$()]")


# --- what a command line is -----------------------------------------------------------------------------


def _words(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    words = [w for w in words if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w)]
    for wrapper in WRAPPERS:
        if tuple(words[:2]) == wrapper:
            words = [w for w in words[2:]]
            while words and words[0].startswith("-"):
                words = words[1:]
    if words[:1] == ["npx"]:
        words = [w for w in words[1:] if not w.startswith("-")]
    if len(words) > 2 and re.match(r"^python(3(\.\d+)?)?$", words[0]) and words[1] == "-m":
        words = words[2:]
    return words


def unwrap(command: str) -> str:
    """`uv run pytest -q` → `pytest -q`: the tool runs from the project's environment (on PATH first) without
    the wrapper, which would want to sync dependencies over the network."""
    words = command.split()
    for wrapper in WRAPPERS[:5]:
        if tuple(words[:2]) == wrapper:
            rest = words[2:]
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            return " ".join(rest)
    return command


def _script_kind(name: str) -> str | None:
    base = name.split(":", 1)[0]
    return SCRIPT_KINDS.get(base) or MAKE_TARGETS.get(base)


def classify(command: str) -> str | None:
    """tests, lint, types or check for a command that checks; None for anything else (setup, build, …)."""
    if NEVER.search(command) or "${{" in command:
        return None
    words = _words(command)
    if not words:
        return None
    first, second = words[0], (words[1] if len(words) > 1 else "")
    if first in ("npm", "yarn", "pnpm", "bun"):
        script = words[2] if second == "run" and len(words) > 2 else second
        return _script_kind(script)
    if first == "make":
        return MAKE_TARGETS.get(second)
    if first in ("go", "cargo"):
        return {"test": "tests", "vet": "lint", "clippy": "lint"}.get(second)
    if first == "ruff":
        return "lint" if second == "check" or (second == "format" and "--check" in words) else None
    if first in ("black", "isort"):
        return "lint" if {"--check", "--check-only", "--diff"} & set(words) else None
    if first == "unittest":
        return "tests"
    return (
        "tests" if first in TEST_TOOLS else "lint" if first in LINT_TOOLS else "types" if first in TYPE_TOOLS else None
    )


# --- a command made into a check, with machine-readable output where the tool offers it ------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "check"


def make_check(name: str, kind: str, command: str, source: str, directory: str | None = None) -> Check:
    command = unwrap(command.strip())
    words = _words(command)
    tool = words[0] if words else executable(command)
    plain = not SHELL_OPERATORS.search(command)
    check = Check(name, tool, command, parsers.exit_code, kind=kind, source=source)
    if plain and tool in ("pytest", "py.test"):
        report = f"{REPORTS}/{_slug(name)}.xml"
        extra = f" -p no:cacheprovider -o junit_family=xunit1 --junitxml=/workspace/{report}"
        check = Check(name, "pytest", command + extra, parsers.junit_xml, report, kind, source)
    elif plain and tool == "ruff" and words[1:2] == ["check"] and "--output-format" not in command:
        check = Check(name, tool, command + " --output-format=json", parsers.ruff_json, kind=kind, source=source)
    elif plain and tool == "mypy":
        check = Check(name, tool, command, parsers.mypy_any, kind=kind, source=source)
    elif plain and tool == "eslint" and not re.search(r"(^|\s)(-f|--format)\b", command):
        check = Check(name, tool, command + " --format json", parsers.eslint_json, kind=kind, source=source)
    elif plain and tool in ("npm", "yarn", "pnpm") and kind == "tests":
        # tape, node-tap and `node --test` write TAP: the failing tests by name; other output: the exit code.
        check = Check(name, tool, command, parsers.tap, kind=kind, source=source)
    elif plain and tool == "tsc":
        check = Check(name, tool, command + " --pretty false", parsers.tsc, kind=kind, source=source)
    if directory:
        return Check(check.name, check.tool, f"cd {shlex.quote(directory)} && {check.command}", check.parse,
                     check.report, check.kind, check.source)  # fmt: skip
    return check


# --- the sources, most preferred first -------------------------------------------------------------------


def _script_lines(script: str) -> Iterable[str]:
    for line in script.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def _uses_secrets(step: dict[str, Any]) -> bool:
    return "secrets." in json.dumps({k: step.get(k) for k in ("env", "with", "working-directory")}, default=str)


def workflow_checks(root: Path) -> list[Check]:
    """`run:` steps of `.github/workflows/*.yml` that test, lint or type-check; never a step with secrets."""
    found = []
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(errors="replace"))
        except yaml.YAMLError:
            continue
        jobs = data.get("jobs") if isinstance(data, dict) else None
        for job in (jobs or {}).values() if isinstance(jobs, dict) else []:
            default_dir = ((job.get("defaults") or {}).get("run") or {}).get("working-directory")
            for step in job.get("steps") or []:
                if not isinstance(step, dict) or not isinstance(step.get("run"), str) or _uses_secrets(step):
                    continue
                directory = step.get("working-directory") or default_dir
                if directory and "${{" in str(directory):
                    continue
                for line in _script_lines(step["run"]):
                    kind = classify(line)
                    if kind:
                        found.append((kind, line, f".github/workflows/{path.name}", directory))
    return [make_check(kind, kind, line, source, directory) for kind, line, source, directory in found]


NPM_DEFAULT_TEST = "no test specified"


def package_json_checks(root: Path) -> list[Check]:
    try:
        scripts = json.loads((root / "package.json").read_text()).get("scripts") or {}
    except (OSError, ValueError, AttributeError):
        return []
    found = []
    for script in ("test", "lint", "typecheck", "type-check", "types"):
        body = scripts.get(script)
        if not isinstance(body, str) or NPM_DEFAULT_TEST in body:
            continue
        kind = SCRIPT_KINDS[script]
        command = "npm test" if script == "test" else f"npm run --silent {script}"
        check = make_check(kind, kind, command, "package.json")
        first = _words(body)[:1]
        if first == ["eslint"] and not SHELL_OPERATORS.search(body):
            check = Check(kind, "eslint", f"{command} -- --format json", parsers.eslint_json, kind=kind,
                          source="package.json")  # fmt: skip
        elif first == ["tsc"] and not SHELL_OPERATORS.search(body):
            check = Check(kind, "tsc", f"{command} -- --pretty false", parsers.tsc, kind=kind, source="package.json")
        found.append(check)
    return found


def tox_checks(root: Path) -> list[Check]:
    """The commands of tox.ini's test environments, run directly in the project's environment (tox itself
    would build its own environments over the network)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "tox.ini")
    except configparser.Error:
        return []
    found = []
    for section in parser.sections():
        if section != "testenv" and not section.startswith("testenv:"):
            continue
        for line in _script_lines(parser.get(section, "commands", fallback="")):
            line = re.sub(r"\{posargs(:[^}]*)?\}", "", line).replace("{toxinidir}", ".").strip()
            kind = classify(line) if "{" not in line else None
            if kind:
                found.append(make_check(kind, kind, line, "tox.ini"))
    return found


def nox_checks(root: Path) -> list[Check]:
    """`session.run("pytest", "-q")` calls of noxfile.py whose arguments are all plain strings."""
    try:
        tree = ast.parse((root / "noxfile.py").read_text())
    except (OSError, SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"):
            continue
        if node.args and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args):
            line = shlex.join(str(a.value) for a in node.args)  # type: ignore[attr-defined]
            kind = classify(line)
            if kind:
                found.append(make_check(kind, kind, line, "noxfile.py"))
    return found


MAKE_TARGET = re.compile(r"^(?P<target>[A-Za-z][\w-]*)\s*:(?!=)", re.M)


def makefile_checks(root: Path) -> list[Check]:
    path = next((root / n for n in ("Makefile", "makefile", "GNUmakefile") if (root / n).is_file()), None)
    if path is None:
        return []
    targets = {m["target"] for m in MAKE_TARGET.finditer(path.read_text(errors="replace"))}
    chosen = [t for t in MAKE_TARGETS if t in targets and MAKE_TARGETS[t] != "check"]
    if not chosen and "check" in targets:
        chosen = ["check"]
    return [make_check(MAKE_TARGETS[t], MAKE_TARGETS[t], f"make {t}", path.name) for t in chosen]


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text()) if path.is_file() else {}
    except (tomllib.TOMLDecodeError, OSError):
        return {}


def _ini_has(path: Path, section: str) -> bool:
    return path.is_file() and f"[{section}]" in path.read_text(errors="replace")


def pyproject_checks(root: Path) -> list[Check]:
    """The tools pyproject.toml (or their own files) configures, run with the project's configuration."""
    tool = _toml(root / "pyproject.toml").get("tool") or {}
    found = []
    configured = {
        ("tests", "python3 -m pytest -q"): ("pytest", ("pytest.ini",), "tool:pytest"),
        ("lint", "ruff check ."): ("ruff", ("ruff.toml", ".ruff.toml"), None),
        ("types", "mypy ."): ("mypy", ("mypy.ini",), "mypy"),
    }
    for (kind, command), (name, files, setup_cfg) in configured.items():
        # The source is the file that configures the tool: pyproject.toml, its own file, or setup.cfg.
        source = "pyproject.toml" if name in tool else next((f for f in files if (root / f).is_file()), None)
        if source is None and setup_cfg and _ini_has(root / "setup.cfg", setup_cfg):
            source = "setup.cfg"
        if source:
            found.append(make_check(kind, kind, command, source))
    return found


PRE_COMMIT_HOOKS = {
    "ruff": ("lint", "ruff check ."),
    "ruff-check": ("lint", "ruff check ."),
    "ruff-format": ("lint", "ruff format --check ."),
    "flake8": ("lint", "flake8 ."),
    "mypy": ("types", "mypy ."),
}


def pre_commit_checks(root: Path) -> list[Check]:
    """Well-known hooks of .pre-commit-config.yaml, run as their tool (pre-commit would fetch the hooks)."""
    try:
        data = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return []
    hooks = [h.get("id") for r in (data or {}).get("repos") or [] for h in r.get("hooks") or [] if isinstance(h, dict)]
    chosen = [PRE_COMMIT_HOOKS[h] for h in hooks if h in PRE_COMMIT_HOOKS]
    return [make_check(kind, kind, command, ".pre-commit-config.yaml") for kind, command in chosen]


SOURCES: tuple[Callable[[Path], list[Check]], ...] = (
    workflow_checks,
    package_json_checks,
    tox_checks,
    nox_checks,
    makefile_checks,
    pyproject_checks,
    pre_commit_checks,
)


# --- putting it together ---------------------------------------------------------------------------------


def _named(checks: list[Check]) -> list[Check]:
    """Each check once (by command), each name unique: `lint`, then `lint-ruff`, `lint-2`, …"""
    seen: set[str] = set()
    names: set[str] = set()
    out = []
    for check in checks:
        if check.command in seen:
            continue
        seen.add(check.command)
        candidates = (check.name, f"{check.name}-{_slug(check.tool)}", *(f"{check.name}-{i}" for i in range(2, 99)))
        name = next(n for n in candidates if n not in names)
        names.add(name)
        out.append(Check(name, check.tool, check.command, check.parse, check.report, check.kind, check.source))
    return out


def discovered_checks(root: Path) -> list[Check]:
    chosen: list[Check] = []
    covered: set[str] = set()
    for source in SOURCES:
        found = [c for c in source(root) if c.kind not in covered and "check" not in covered]
        found = [c for c in found if c.kind != "check" or not covered]
        chosen += found
        covered |= {c.kind for c in found}
    return _named(chosen)


def configured_check(item: CheckCommand) -> Check:
    """A check from paid.yaml: its command as given (a pytest with the `junit` parser gets its report flag)."""
    kind = item.kind or classify(item.command) or _script_kind(item.name) or "other"
    parse: Callable[[str], list[Finding]] = parsers.PARSERS[item.parser]
    if item.parser == "junit" and not item.report:
        made = make_check(item.name, kind, item.command, "paid.yaml")
        if made.report:
            return made
    tool = _words(item.command)[:1] or [item.parser]
    return Check(item.name, tool[0], item.command, parse, item.report, kind, "paid.yaml")


def checks_for(root: Path, configured: Iterable[CheckCommand] = ()) -> list[Check]:
    """paid.yaml's checks if the repository has some; else what its files say; else Paid's bundled tools."""
    given = [configured_check(item) for item in configured]
    if given:
        return _named(given)
    return discovered_checks(root) or bundled_checks(root)
