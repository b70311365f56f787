"""Real open-source projects (tests/realprojects/projects.json): cold setup, warm setup (a cache hit), and one
round of each project's own checks in each sandbox beside the same commands run directly on the host, all
measured in the same run. Goals: warm setup under 2 s; a round within 1.3× of the host."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import row
from paid_dagster.checks.discovery import checks_for
from paid_dagster.checks.runner import REPORTS, check_environment, run_checks
from paid_dagster.config import SetupSettings
from paid_dagster.preparation import EnvironmentCache, prepare_environment
from paid_dagster.sandbox import SandboxUnavailable, open_sandbox
from tests.realprojects.projects import projects, unpack

SANDBOXES = ("bubblewrap", "docker")
NEEDS_NODE = {"minimist"}  # the Docker image has Python, not Node


def worktree(project_name: str, target: Path) -> Path:
    root = unpack(projects()[project_name], target)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b"}
    env["GIT_COMMITTER_EMAIL"] = "b@x"
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "release"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    return root


def host_round(root: Path, commands: list[str]) -> list[float]:
    """The same commands, directly on the host: the prepared environment first on PATH, paths at the worktree."""
    env = {**os.environ, "PATH": check_environment(root)["PATH"].replace("/workspace", str(root))}
    if (root / "src").is_dir():
        env["PYTHONPATH"] = str(root / "src")  # the editable install points at /workspace/src
    timings = []
    for command in commands:
        (root / REPORTS).mkdir(exist_ok=True)
        line = command.replace("/workspace", str(root))
        started = time.perf_counter()
        subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True, check=False)
        timings.append(time.perf_counter() - started)
    shutil.rmtree(root / REPORTS, ignore_errors=True)
    return timings


def one(name: str, tmp: Path) -> None:
    print(f"{name} ({projects()[name].slug})")
    for kind in SANDBOXES:
        if kind == "docker" and name in NEEDS_NODE:
            print(f"  {kind}: skipped (its image has no Node)")
            continue
        cache = EnvironmentCache(tmp / f"env-{kind}", max_bytes=10 * 1024**3, max_age_days=1)
        cold_root = worktree(name, tmp / f"{kind}-cold")
        try:
            cold = prepare_environment(cold_root, SetupSettings(), kind, "paid-sandbox:bookworm", cache)
        except SandboxUnavailable as exc:
            print(f"  {kind}: unavailable ({exc})")
            continue
        if cold.status != "prepared":
            print(f"  {kind}: setup {cold.status}: {cold.failed_step}\n{cold.tail}")
            continue
        row(f"{kind}: cold setup ({cold.source})", cold.duration_s, "s")
        warm_root = worktree(name, tmp / f"{kind}-warm")
        warm = prepare_environment(warm_root, SetupSettings(), kind, "paid-sandbox:bookworm", cache)
        row(f"{kind}: warm setup ({warm.status}){' ✅ < 2 s' if warm.duration_s < 2 else ' ❌ ≥ 2 s'}",
            warm.duration_s, "s", cold.duration_s, higher_is_better=False)  # fmt: skip
        checks = checks_for(warm_root)
        box = open_sandbox(kind, warm_root)
        try:
            rounds = [run_checks(box, warm_root, 600, checks) for _ in range(2)]
        finally:
            box.close()
        # Only the checks that ran in the sandbox are compared (a tool missing there would flatter the ratio).
        ran = [i for i, r in enumerate(rounds[-1]) if r.status != "not run"]
        hosts = [host_round(warm_root, [checks[i].command for i in ran]) for _ in range(2)]
        host = min(sum(t) for t in hosts)
        boxed = min(sum(r[i].duration_s for i in ran) for r in rounds)
        names = ", ".join(checks[i].name for i in ran)
        skipped = [f"{r.check} ({r.note})" for r in rounds[-1] if r.status == "not run"]
        row(f"host: the same {len(ran)} check(s) ({names})", host, "s")
        states = ", ".join(f"{rounds[-1][i].check} {rounds[-1][i].status}" for i in ran)
        row(f"{kind}: one checks round ({states}){' ✅' if boxed <= 1.3 * host else ' ❌'} ≤1.3×",
            boxed, "s", host, higher_is_better=False)  # fmt: skip
        if skipped:
            print(f"    not compared (not run in the sandbox): {'; '.join(skipped)}")


def main() -> None:
    print("real projects: setup (cold, warm) and one checks round, sandbox vs host")
    for name in projects():
        with tempfile.TemporaryDirectory(prefix="paid-bench-") as tmp:
            one(name, Path(tmp))


if __name__ == "__main__":
    main()
