"""Which checks a project gets, read from its own files (no tool runs here: see test_results.py for that)."""

from __future__ import annotations

import json
from pathlib import Path

from paid_dagster.checks import parsers
from paid_dagster.checks.discovery import checks_for
from paid_dagster.checks.runner import Check
from paid_dagster.config import parse_config

WORKFLOW = """
name: CI
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ["3.11", "3.12"]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python }}
      - name: Install
        run: |
          python -m pip install -U pip
          pip install -e .[dev]
      - name: Lint
        run: |
          ruff check .
          ruff format --check .
      - name: Types
        run: uv run mypy src
      - name: Tests
        run: python -m pytest -q tests
      - name: Matrix-only
        run: pytest --python ${{ matrix.python }}
      - name: Upload coverage
        run: codecov --token x
        env:
          CODECOV_TOKEN: ${{ secrets.CODECOV_TOKEN }}
      - name: With a secret
        run: pytest tests/integration
        env:
          API_KEY: ${{ secrets.API_KEY }}
  publish:
    runs-on: ubuntu-latest
    steps:
      - run: python -m build && twine upload dist/*
  web:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: web
    steps:
      - run: npm ci
      - run: npm test
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_checks_come_from_the_ci_workflow_first(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            ".github/workflows/ci.yml": WORKFLOW,
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n[tool.pytest.ini_options]\n",
            "Makefile": "test:\n\tpytest\n",
        },
    )
    checks = by_name(checks_for(root))
    assert sorted(checks) == ["lint", "lint-ruff", "tests", "tests-npm", "types"]
    # Install, upload, publish, `${{ }}` and steps with secrets are left out; wrappers (`uv run`) too.
    assert checks["lint"].command == "ruff check . --output-format=json" and checks["lint"].parse is parsers.ruff_json
    assert checks["lint-ruff"].command == "ruff format --check ." and checks["lint-ruff"].parse is parsers.exit_code
    assert checks["types"].command == "mypy src" and checks["types"].parse is parsers.mypy_any
    assert checks["tests"].command.startswith("python -m pytest -q tests -p no:cacheprovider")
    assert checks["tests"].report == ".paid-checks/tests.xml" and checks["tests"].parse is parsers.junit_xml
    assert checks["tests-npm"].command == "cd web && npm test" and checks["tests-npm"].kind == "tests"
    assert {c.source for c in checks.values()} == {".github/workflows/ci.yml"}
    commands = " ".join(c.command for c in checks.values())
    assert "secrets" not in commands and "integration" not in commands and "pip" not in commands
    assert "twine" not in commands and "codecov" not in commands and "matrix" not in commands


def test_package_json_scripts(tmp_path: Path) -> None:
    scripts = {"test": "node --test", "lint": "eslint src", "typecheck": "tsc --noEmit", "build": "tsc"}
    root = write(tmp_path, {"package.json": json.dumps({"name": "x", "scripts": scripts}), "tsconfig.json": "{}"})
    checks = by_name(checks_for(root))
    assert checks["tests"].command == "npm test" and checks["tests"].parse is parsers.tap
    assert checks["lint"].command == "npm run --silent lint -- --format json"
    assert checks["lint"].parse is parsers.eslint_json
    assert (
        checks["types"].command == "npm run --silent typecheck -- --pretty false"
        and checks["types"].parse is parsers.tsc
    )
    assert sorted(checks) == ["lint", "tests", "types"] and {c.source for c in checks.values()} == {"package.json"}


def test_npm_s_placeholder_test_script_is_no_test(tmp_path: Path) -> None:
    scripts = {"test": 'echo "Error: no test specified" && exit 1'}
    root = write(tmp_path, {"package.json": json.dumps({"scripts": scripts}), "pyproject.toml": "[tool.pytest]\n"})
    assert [(c.name, c.source) for c in checks_for(root)] == [("tests", "pyproject.toml")]


def test_tox_commands_then_makefile_targets_for_what_tox_left(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "tox.ini": "[tox]\nenvlist = py311\n\n[testenv]\ndeps = pytest\ncommands =\n"
            "    pip install -e .\n    pytest {posargs:tests}\n",
            "Makefile": "VERSION := 1\n\ntest:\n\tpytest\n\nlint:\n\truff check .\n\ncheck: lint test\n",
        },
    )
    checks = by_name(checks_for(root))
    assert sorted(checks) == ["lint", "tests"]
    assert checks["tests"].source == "tox.ini" and checks["tests"].command.startswith("pytest -p no:cacheprovider")
    assert checks["lint"].source == "Makefile" and checks["lint"].command == "make lint"


def test_a_makefile_check_target_alone_and_pre_commit_hooks(tmp_path: Path) -> None:
    root = write(tmp_path, {"Makefile": "check:\n\t./run-all\n"})
    assert [(c.name, c.command, c.kind) for c in checks_for(root)] == [("check", "make check", "check")]
    hooks = (
        "repos:\n- repo: https://github.com/astral-sh/ruff-pre-commit\n  hooks:\n  - id: ruff\n  - id: ruff-format\n"
    )
    root = write(tmp_path / "other", {".pre-commit-config.yaml": hooks, "mypy.ini": "[mypy]\n"})
    checks = by_name(checks_for(root))
    assert checks["types"].source == "mypy.ini" and checks["types"].command == "mypy ."
    assert checks["lint"].source == ".pre-commit-config.yaml" and checks["lint-ruff"].command == "ruff format --check ."


def test_nox_sessions(tmp_path: Path) -> None:
    nox = 'import nox\n\n@nox.session\ndef tests(session):\n    session.install("pytest")\n    session.run("pytest", "-q")\n'
    checks = checks_for(write(tmp_path, {"noxfile.py": nox}))
    assert [(c.name, c.source, c.parse) for c in checks] == [("tests", "noxfile.py", parsers.junit_xml)]


def test_paid_yaml_replaces_discovery(tmp_path: Path) -> None:
    root = write(tmp_path, {".github/workflows/ci.yml": WORKFLOW, "pyproject.toml": "[tool.mypy]\n"})
    config = parse_config(
        {
            "repositories": [
                {
                    "name": "octo/app",
                    "checks": [
                        {"name": "unit", "command": "python -m pytest tests/unit", "parser": "junit"},
                        {"name": "style", "command": "ruff check --output-format=json .", "parser": "ruff"},
                        {"name": "smoke", "command": "./smoke.sh"},
                    ],
                }
            ]
        }
    )
    checks = by_name(checks_for(root, config.repository("octo/app").checks))
    assert sorted(checks) == ["smoke", "style", "unit"] and {c.source for c in checks.values()} == {"paid.yaml"}
    assert checks["unit"].report == ".paid-checks/unit.xml" and checks["unit"].kind == "tests"
    assert checks["style"].command == "ruff check --output-format=json ." and checks["style"].kind == "lint"
    assert checks["smoke"].parse is parsers.exit_code and checks["smoke"].kind == "other"


def test_bundled_tools_only_when_the_project_says_nothing(tmp_path: Path) -> None:
    root = write(tmp_path, {"setup.py": "", "tests/test_x.py": "def test_x():\n    pass\n"})
    checks = checks_for(root)
    assert [(c.name, c.source) for c in checks] == [("lint", "bundled"), ("tests", "bundled")]


def test_a_check_says_which_file_configures_its_tool(tmp_path: Path) -> None:
    # six 1.17.0: pytest configured in setup.cfg's [tool:pytest]; no pyproject.toml at all.
    six = write(tmp_path / "six", {"setup.py": "", "setup.cfg": "[tool:pytest]\nminversion = 2.2.0\n"})
    assert [(c.name, c.source) for c in checks_for(six)] == [("tests", "setup.cfg")]
    own = write(
        tmp_path / "own", {"pytest.ini": "[pytest]\n", "mypy.ini": "[mypy]\n", "pyproject.toml": "[tool.ruff]\n"}
    )
    assert {c.name: c.source for c in checks_for(own)} == {
        "tests": "pytest.ini",
        "lint": "pyproject.toml",
        "types": "mypy.ini",
    }
