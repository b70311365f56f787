"""What it takes to prepare a repository's environment, read from its own files (or given in paid.yaml).

The plan is a shell script run once in the sandbox (with the package registries as its only network) and the
directories it fills in the working files (`.venv`, `node_modules`, `.paid-env`), which are cached and never
committed. Precedence: `setup.commands` in paid.yaml, else the repository's `.paid/setup.sh`, else what its
lock files and manifests call for.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_SCRIPT = ".paid/setup.sh"
ENV_DIRS = (".venv", "node_modules", ".paid-env")  # where prepared environments live in the working files
# Files that decide what an environment holds: a change to any of them is a new environment.
KEY_FILES = (
    REPOSITORY_SCRIPT,
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "go.mod",
    "go.sum",
    "Cargo.toml",
    "Cargo.lock",
    "Gemfile",
    "Gemfile.lock",
)
TEST_EXTRAS = ("test", "tests", "testing", "dev")
TEST_GROUPS = ("test", "tests", "testing", "dev", "lint", "typing", "types", "type", "check")


@dataclass(frozen=True)
class SetupPlan:
    source: str  # "paid.yaml", ".paid/setup.sh", or "detected: uv.lock, package-lock.json"
    steps: tuple[str, ...]  # shell commands, run in order in one script; the first failure stops it
    env_dirs: tuple[str, ...]  # what the steps fill, relative to the working files

    def script(self) -> str:
        """One script: each step announced (so a failure names its step) and the first failure ends it."""
        lines = ["set -e"]
        for number, step in enumerate(self.steps, 1):
            lines.append(f"echo '>>> paid setup step {number}/{len(self.steps)}'")
            lines.append(step)
        return "\n".join(lines)


def plan_for(root: Path, configured: tuple[str, ...] = ()) -> SetupPlan | None:
    """The plan for the working files at `root`; None when there is nothing to prepare."""
    if configured:
        return SetupPlan("paid.yaml", tuple(configured), ENV_DIRS)
    if (root / REPOSITORY_SCRIPT).is_file():
        return SetupPlan(REPOSITORY_SCRIPT, (f"bash {REPOSITORY_SCRIPT}",), ENV_DIRS)
    found: list[str] = []
    steps: list[str] = []
    dirs: list[str] = []
    for detect in (_python, _node, _go, _rust, _ruby):
        detected = detect(root)
        if detected:
            source, more_steps, env_dir = detected
            found.append(source)
            steps += more_steps
            dirs.append(env_dir)
    if not steps:
        return None
    return SetupPlan("detected: " + ", ".join(found), tuple(steps), tuple(dict.fromkeys(dirs)))


Detected = tuple[str, list[str], str] | None


def _python(root: Path) -> Detected:
    pyproject = _toml(root / "pyproject.toml")
    if (root / "uv.lock").is_file():
        # uv itself comes from the registry, into a throwaway place; it then builds .venv from the lock alone.
        return (
            "uv.lock",
            [
                "python3 -m venv /tmp/paid-uv && /tmp/paid-uv/bin/pip install -q uv",
                "UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy /tmp/paid-uv/bin/uv sync --frozen --all-extras"
                " --all-groups --python python3",
            ],
            ".venv",
        )
    if (root / "poetry.lock").is_file():
        return (
            "poetry.lock",
            [
                "python3 -m venv /tmp/paid-poetry && /tmp/paid-poetry/bin/pip install -q poetry",
                "POETRY_VIRTUALENVS_IN_PROJECT=true /tmp/paid-poetry/bin/poetry install --all-extras --no-interaction",
            ],
            ".venv",
        )
    requirements = sorted(p.name for p in root.glob("requirements*.txt")) + sorted(
        f"requirements/{p.name}" for p in (root / "requirements").glob("*.txt")
    )
    installable = (root / "pyproject.toml").is_file() or (root / "setup.py").is_file()
    if not requirements and not installable:
        return None
    steps = ["python3 -m venv .venv", ".venv/bin/python -m pip install -q --upgrade pip"]
    steps += [f".venv/bin/python -m pip install -q -r {_q(r)}" for r in requirements]
    if installable:
        extras = [e for e in TEST_EXTRAS if e in (pyproject.get("project", {}).get("optional-dependencies") or {})]
        groups = [g for g in TEST_GROUPS if g in (pyproject.get("dependency-groups") or {})]
        target = "." + (f"[{','.join(extras)}]" if extras else "")
        steps.append(
            f".venv/bin/python -m pip install -q -e {_q(target)}" + "".join(f" --group {_q(g)}" for g in groups)
        )
    if _pytest_configured(root, pyproject) and not _declares_pytest(root, pyproject, requirements):
        # An older project (setup.py, tests run by tox) whose tests are pytest's but which declares no test
        # dependency: its checks run `python -m pytest` in this environment, so pytest goes in it too.
        steps.append(".venv/bin/python -m pip install -q pytest")
    manifest = ["pyproject.toml" if (root / "pyproject.toml").is_file() else "setup.py"] if installable else []
    source = ", ".join([*requirements, *manifest])
    return (source, steps, ".venv")


def _pytest_configured(root: Path, pyproject: dict) -> bool:  # type: ignore[type-arg]
    """Whether the project's tests are pytest's, by its configuration (what the checks' discovery reads too)."""
    if "pytest" in (pyproject.get("tool") or {}) or (root / "pytest.ini").is_file():
        return True
    return any(
        (root / name).is_file() and section in (root / name).read_text(errors="replace")
        for name, section in (("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]"))
    )


def _declares_pytest(root: Path, pyproject: dict, requirements: list[str]) -> bool:  # type: ignore[type-arg]
    """Whether anything the plan installs (requirements files, pyproject's extras and groups) names pytest; a
    setup.py's `tests_require` does not count: pip never installs it."""
    texts = [(root / r).read_text(errors="replace") for r in requirements]
    texts.append(str(pyproject.get("project", {}).get("optional-dependencies") or ""))
    texts.append(str(pyproject.get("dependency-groups") or ""))
    return any("pytest" in text for text in texts)


def _node(root: Path) -> Detected:
    if not (root / "package.json").is_file():
        return None
    if (root / "package-lock.json").is_file() or (root / "npm-shrinkwrap.json").is_file():
        return ("package-lock.json", ["npm ci --no-audit --no-fund"], "node_modules")
    if (root / "pnpm-lock.yaml").is_file():
        return ("pnpm-lock.yaml", ["npx --yes pnpm@9 install --frozen-lockfile"], "node_modules")
    if (root / "yarn.lock").is_file():
        return ("yarn.lock", ["npx --yes yarn@1 install --frozen-lockfile --non-interactive"], "node_modules")
    return ("package.json", ["npm install --no-audit --no-fund --no-package-lock"], "node_modules")


def _go(root: Path) -> Detected:
    return ("go.mod", ["go mod download"], ".paid-env") if (root / "go.mod").is_file() else None


def _rust(root: Path) -> Detected:
    return ("Cargo.toml", ["cargo fetch"], ".paid-env") if (root / "Cargo.toml").is_file() else None


def _ruby(root: Path) -> Detected:
    if not (root / "Gemfile").is_file():
        return None
    return ("Gemfile", ["bundle install"], ".paid-env")


def _toml(path: Path) -> dict:  # type: ignore[type-arg]
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _q(text: str) -> str:
    return text if re.fullmatch(r"[\w./,=-]+", text) else "'" + text.replace("'", "'\"'\"'") + "'"
