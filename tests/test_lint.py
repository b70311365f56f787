"""ruff and mypy stay clean: the suite fails when they do not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    out = run("ruff", "check", "paid_dagster", "standins", "tests", "bench")
    assert out.returncode == 0, out.stdout + out.stderr
    out = run("ruff", "format", "--check", "paid_dagster", "standins", "tests", "bench")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_is_clean() -> None:
    out = run("mypy", "paid_dagster", "standins/paid_standins")
    assert out.returncode == 0, out.stdout + out.stderr
