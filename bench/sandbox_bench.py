"""Sandbox overhead per command (docker, bubblewrap) beside a plain subprocess, and the quality checks' time on
the sample repository."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from paid_standins.forge.seed import sample_files

from bench.common import row
from paid_dagster.checks.runner import run_checks
from paid_dagster.sandbox import SandboxUnavailable, open_sandbox

COMMANDS = 30


def per_command(run: object, count: int = COMMANDS) -> float:
    started = time.perf_counter()
    for _ in range(count):
        run()  # type: ignore[operator]
    return (time.perf_counter() - started) / count * 1000


def make_sample(root: Path) -> Path:
    for name, content in sample_files().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def main() -> None:
    print(f"sandbox: overhead per command (`true`, mean of {COMMANDS})")
    with tempfile.TemporaryDirectory() as tmp:
        worktree = make_sample(Path(tmp) / "sample")
        plain = per_command(lambda: subprocess.run(["bash", "-c", "true"], cwd=worktree, check=True))
        row("plain subprocess (bash -c true)", plain, "ms/command")
        boxes = {}
        for kind in ("bubblewrap", "docker"):
            try:
                started = time.perf_counter()
                box = open_sandbox(kind, worktree)
                startup = (time.perf_counter() - started) * 1000
            except SandboxUnavailable as exc:
                print(f"  {kind}: unavailable ({exc})")
                continue
            boxes[kind] = box
            row(f"{kind}: start", startup, "ms")
            row(
                f"{kind}: per command",
                per_command(lambda b=box: b.run("true", 30)),
                "ms/command",
                plain,
                higher_is_better=False,
            )
        print("quality checks on the sample repository (ruff, pytest), whole round")
        for kind, box in boxes.items():
            started = time.perf_counter()
            results = run_checks(box, worktree)
            elapsed = time.perf_counter() - started
            detail = ", ".join(f"{r.tool} {r.status} {r.duration_s:.2f} s {r.note[:80]}" for r in results)
            row(f"{kind}: one round ({detail})", elapsed, "s")
            box.close()
        started = time.perf_counter()
        subprocess.run(
            ["bash", "-c", "ruff check -q . ; python3 -m pytest -q -p no:cacheprovider"],
            cwd=worktree,
            capture_output=True,
            check=False,
        )
        row("baseline: the same tools run directly", time.perf_counter() - started, "s")


if __name__ == "__main__":
    main()
