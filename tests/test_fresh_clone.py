"""The suite from a fresh clone under /tmp: cloned, bootstrapped (scripts/bootstrap.sh, with the same pip cache),
and a representative subset run there: a sandboxed checks round, the agent's boundary, setup in a run. Paths
under /tmp matter: bubblewrap mounts a fresh /tmp, so Paid's own toolchain there must be bound after it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBSET = [
    "tests/agent/test_boundary.py",
    "tests/agent/test_project_checks.py",
    "tests/checks/test_results.py",
    "tests/preparation/test_setup_in_a_run.py",
    "tests/sandbox/test_sandbox.py",
]


@pytest.mark.fresh_clone
def test_a_fresh_clone_under_tmp_bootstraps_and_passes_a_representative_subset() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory(prefix="paid-fresh-", dir="/tmp") as tmp:
        clone = Path(tmp) / "paid"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "checkout", "-q", head.stdout.strip()], cwd=clone, check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAID_", "VIRTUAL_ENV", "PYTEST_"))}
        boot = subprocess.run(["scripts/bootstrap.sh"], cwd=clone, env=env, capture_output=True, text=True, timeout=900)
        assert boot.returncode == 0, boot.stdout[-2000:] + boot.stderr[-2000:]
        env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", MSWEA_SILENT_STARTUP="1")
        command = [str(clone / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not docker"]
        tests = subprocess.run(
            [*command, *SUBSET], cwd=clone, env=env, capture_output=True, text=True, timeout=1200, check=False
        )
        assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
        assert " passed" in tests.stdout.splitlines()[-1] and " failed" not in tests.stdout.splitlines()[-1]
