"""Each parser on the real output of the real tool, run on a small broken project.

The expected counts come from the tool's own human summary, never from our parser.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paid_dagster.checks import parsers

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
NODE_CACHE = ROOT / ".paid" / "cache" / "node"


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})})
    return proc.stdout + proc.stderr


def count(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, f"no summary matching {pattern!r} in:\n{text[-2000:]}"
    return int(match.group(1))


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


PY_PROJECT = {
    "pyproject.toml": "[tool.ruff.lint]\nselect = ['E', 'F']\n\n[tool.mypy]\nstrict = false\n",
    "app.py": "import os\nimport sys\n\n\ndef add(a: int, b: int) -> int:\n    return str(a + b)\n\n\n"
    "def name() -> str:\n    return undefined_thing\n",
    "tests/test_app.py": "from app import add\n\n\ndef test_ok() -> None:\n    assert 1 == 1\n\n\n"
    "def test_add() -> None:\n    assert add(1, 2) == 4\n\n\ndef test_boom() -> None:\n"
    "    raise RuntimeError('boom')\n",
}


def test_ruff(tmp_path: Path) -> None:
    root = write(tmp_path, PY_PROJECT)
    findings = parsers.ruff_json(run([str(BIN / "ruff"), "check", "--output-format=json", "--exit-zero", "."], root))
    expected = count(r"Found (\d+) error", run([str(BIN / "ruff"), "check", "."], root))
    assert len(findings) == expected == 3
    assert {f.rule for f in findings} == {"F401", "F821"}
    assert next(f for f in findings if f.rule == "F821").line == 10


def test_mypy(tmp_path: Path) -> None:
    root = write(tmp_path, PY_PROJECT)
    findings = parsers.mypy_json(run([str(BIN / "mypy"), "--output", "json", "--no-error-summary", "app.py"], root))
    expected = count(r"Found (\d+) errors? in", run([str(BIN / "mypy"), "app.py"], root))
    assert len(findings) == expected
    assert any(f.rule == "return-value" and f.line == 6 for f in findings)


def test_pytest_junit(tmp_path: Path) -> None:
    root = write(tmp_path, PY_PROJECT)
    out = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "junit_family=xunit1",
            "--junitxml=report.xml",
        ],
        root,
        {"PYTHONPATH": str(root)},
    )
    findings = parsers.junit_xml((root / "report.xml").read_text())
    assert len(findings) == count(r"(\d+) failed", out) == 2
    add = next(f for f in findings if f.rule.endswith("test_add"))
    assert add.file == "tests/test_app.py" and add.line == 8 and "assert '3' == 4" in add.message


def node_tool(name: str) -> Path:
    """eslint and typescript from the npm registry, installed once into .paid/cache/node."""
    tool = NODE_CACHE / "node_modules" / ".bin" / name
    if not tool.exists():
        if shutil.which("npm") is None:
            pytest.fail("npm is missing: install Node.js (Debian's nodejs and npm packages)")
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["npm", "install", "--prefix", str(NODE_CACHE), "--no-audit", "--no-fund", "eslint@9", "typescript@5"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr[-2000:]
    return tool


def test_eslint(tmp_path: Path) -> None:
    eslint = node_tool("eslint")
    root = write(
        tmp_path,
        {
            "eslint.config.js": "module.exports = [{rules: {'no-unused-vars': 'error', 'no-undef': 'error',"
            " 'prefer-const': 'warn'}, languageOptions: {sourceType: 'commonjs'}}];\n",
            "index.js": "let unused = 1;\nfunction f() { return missing + 1; }\nmodule.exports = f;\n",
        },
    )
    findings = parsers.eslint_json(run([str(eslint), "-f", "json", "index.js"], root))
    summary = run([str(eslint), "index.js"], root)
    assert len(findings) == count(r"(\d+) problems?", summary)
    assert sum(f.severity == "error" for f in findings) == count(r"\((\d+) errors?", summary)
    assert {f.rule for f in findings} >= {"no-unused-vars", "no-undef"}


def test_tsc(tmp_path: Path) -> None:
    tsc = node_tool("tsc")
    root = write(
        tmp_path,
        {
            "tsconfig.json": '{"compilerOptions": {"strict": true, "noEmit": true}, "files": ["main.ts"]}\n',
            "main.ts": "const n: number = 'text';\nfunction f(a: string): number { return a; }\nf(1);\n",
        },
    )
    findings = parsers.tsc(run([str(tsc), "--noEmit", "--pretty", "false"], root))
    assert len(findings) == count(r"Found (\d+) errors?", run([str(tsc), "--noEmit", "--pretty", "true"], root))
    assert findings[0].file == "main.ts" and findings[0].line == 1 and findings[0].rule.startswith("TS")


RUST = {
    "Cargo.toml": '[package]\nname = "broken"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n',
    "src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 {\n    let unused = 3;\n    a - b\n}\n\n"
    "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn adds() { assert_eq!(add(1, 2), 3); }\n"
    "    #[test]\n    fn subtracts() { assert_eq!(add(2, 2), 4); }\n    #[test]\n"
    "    fn fine() { assert_eq!(1, 1); }\n}\n",
}


def cargo_env(tmp: Path) -> dict[str, str]:
    return {"CARGO_TARGET_DIR": str(tmp / "target"), "CARGO_NET_OFFLINE": "true"}


def test_cargo_clippy(tmp_path: Path) -> None:
    if shutil.which("cargo") is None:
        pytest.fail("cargo is missing on this machine")
    root = write(tmp_path / "crate", RUST)
    out = run(["cargo", "clippy", "--quiet", "--message-format=json"], root, cargo_env(tmp_path))
    findings = parsers.cargo_json(out)
    plain = run(
        ["cargo", "clippy", "--color", "never"],
        root,
        {**cargo_env(tmp_path), "CARGO_TARGET_DIR": str(tmp_path / "target2")},
    )
    expected = count(r"generated (\d+) warnings?", plain)
    assert len([f for f in findings if f.severity == "warning"]) == expected
    assert any("unused" in f.message and f.line == 2 for f in findings)


def test_cargo_test(tmp_path: Path) -> None:
    if shutil.which("cargo") is None:
        pytest.fail("cargo is missing on this machine")
    root = write(tmp_path / "crate", RUST)
    out = run(["cargo", "test", "--color", "never"], root, cargo_env(tmp_path))
    findings = parsers.cargo_test(out)
    assert len(findings) == count(r"test result: FAILED\. \d+ passed; (\d+) failed", out) == 2
    assert {f.rule for f in findings} == {"tests::adds", "tests::subtracts"} and findings[0].file == "src/lib.rs"


def test_rubocop(tmp_path: Path) -> None:
    if shutil.which("rubocop") is None:
        pytest.fail("rubocop is missing: scripts/system-deps.sh installs Debian's rubocop")
    root = write(
        tmp_path,
        {
            "app.rb": "def Add(a,b)\n  x = 1\n  return a+b\nend\n",
            ".rubocop.yml": "AllCops:\n  NewCops: disable\n  SuggestExtensions: false\n",
        },
    )
    findings = parsers.rubocop_json(run(["rubocop", "--format", "json"], root))
    assert len(findings) == count(r"(\d+) offenses? detected", run(["rubocop", "--format", "progress"], root))
    assert any(f.rule == "Naming/MethodName" for f in findings)


def test_go_test(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.fail("go is missing: scripts/system-deps.sh installs Debian's golang-go")
    root = write(
        tmp_path,
        {
            "go.mod": "module example.com/broken\n\ngo 1.19\n",
            "calc.go": "package calc\n\nfunc Add(a, b int) int { return a - b }\n",
            "calc_test.go": 'package calc\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n'
            '\tif Add(1, 2) != 3 {\n\t\tt.Errorf("Add(1, 2) = %d", Add(1, 2))\n\t}\n}\n\n'
            "func TestOk(t *testing.T) {}\n",
        },
    )
    env = {"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOCACHE": str(tmp_path / "gocache"), "HOME": str(tmp_path)}
    findings = parsers.go_test_json(run(["go", "test", "-json", "./..."], root, env))
    plain = run(["go", "test", "-v", "./..."], root, env)
    assert len(findings) == len(re.findall(r"^--- FAIL:", plain, re.M)) == 1
    assert findings[0].rule == "TestAdd" and findings[0].file == "calc_test.go" and findings[0].line == 7


def test_tap_from_node_s_own_test_runner(tmp_path: Path) -> None:
    """`node --test` writes TAP (as tape and node-tap do): each failing test by its name, the totals its own."""
    root = write(
        tmp_path,
        {
            "test/sum.test.js": "const test = require('node:test');\nconst assert = require('node:assert');\n\n"
            "test('adds', () => { assert.strictEqual(1 + 1, 2); });\n"
            "test('carries', () => { assert.strictEqual(9 + 1, 11); });\n"
            "test('later', { skip: 'not yet' }, () => {});\n",
        },
    )
    output = run(["node", "--test", "--test-reporter=tap", "test/"], root)
    findings = parsers.tap(output)
    assert [f.rule for f in findings] == ["carries"] and findings[0].severity == "error", output
    assert findings[0].file.endswith("test/sum.test.js") and findings[0].line == 5
    counts = parsers.tap_counts(output)
    assert counts == {"collected": 3, "passed": 1, "failed": 1, "errors": 0, "skipped": 1}
    assert counts["failed"] == count(r"# fail (\d+)", output)


def test_tap_names_a_tape_assertion_after_its_test() -> None:
    tape = (
        "TAP version 13\n# parse args\nnot ok 1 no\n  ---\n    operator: deepEqual\n"
        "    at: Test.<anonymous> (/workspace/test/parse.js:7:4)\n  ...\nok 2 multi\n\n1..2\n# tests 2\n# pass  1\n"
        "# fail  1\n"
    )
    (finding,) = parsers.tap(tape)
    assert (finding.rule, finding.file, finding.line) == ("parse args › no", "test/parse.js", 7)
    assert parsers.tap("> jest\nTests: 1 failed\n") == [] and parsers.tap_counts("no TAP here") == {}
