"""The setup phase: the repository's environment prepared in the sandbox, before the agent, or reused.

Setup runs the plan in a sandbox of the repository's kind whose only way out is an `EgressProxy` to the package
registries (and `setup.allow_hosts`); it carries none of Paid's secrets (the sandbox's environment is scrubbed).
The agent phase that follows gets the same working files, now with the environment, and no network at all.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import SetupSettings
from ..safe_text import clean
from ..sandbox import open_sandbox
from ..sandbox.egress import EgressProxy, registry_hosts
from .cache import EnvironmentCache, environment_key
from .plan import SetupPlan, plan_for

TAIL_LINES = 30
STEP_MARK = re.compile(r"^>>> paid setup step (\d+)/\d+$", re.M)


@dataclass(frozen=True)
class Preparation:
    status: str  # none | disabled | reused | prepared | failed
    source: str = ""
    key: str = ""
    duration_s: float = 0.0
    steps: tuple[str, ...] = ()
    failed_step: str = ""
    exit_code: int | None = None
    tail: str = ""
    reached: tuple[str, ...] = ()
    refused: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def explained(self) -> str:
        """One paragraph for an issue comment or a PR: what was run and, if it failed, where and how."""
        if self.status in ("none", "disabled"):
            return "No environment was prepared" + (" (setup is off)." if self.status == "disabled" else ".")
        if self.status == "reused":
            return f"The environment ({self.source}) was reused from the cache (`{self.key}`)."
        if self.status == "prepared":
            return f"The environment was prepared from {self.source} in {self.duration_s:.0f} s (`{self.key}`)."
        refused = f" Hosts refused: {', '.join(sorted(set(self.refused)))}." if self.refused else ""
        return (
            f"Preparing the environment ({self.source}) failed at `{self.failed_step}` (exit {self.exit_code})."
            f"{refused} Its last lines:\n\n```\n{self.tail}\n```"
        )


def prepare_environment(
    worktree: Path, settings: SetupSettings, sandbox_kind: str, image: str, cache: EnvironmentCache
) -> Preparation:
    if not settings.enabled:
        return Preparation("disabled")
    plan = plan_for(worktree, settings.commands)
    if plan is None:
        return Preparation("none")
    started = time.monotonic()
    key = environment_key(plan, worktree, f"{sandbox_kind}:{image}")
    if cache.restore(key, worktree):
        return Preparation("reused", plan.source, key, round(time.monotonic() - started, 3), plan.steps)
    outcome = _run_plan(plan, worktree, settings, sandbox_kind, image)
    duration = round(time.monotonic() - started, 3)
    if outcome.failed:
        return Preparation(
            "failed",
            plan.source,
            key,
            duration,
            plan.steps,
            outcome.failed_step,
            outcome.exit_code,
            outcome.tail,
            outcome.reached,
            outcome.refused,
        )
    cache.store(key, worktree, plan.env_dirs)
    cache.evict()
    return Preparation(
        "prepared", plan.source, key, duration, plan.steps, reached=outcome.reached, refused=outcome.refused
    )


def _run_plan(plan: SetupPlan, worktree: Path, settings: SetupSettings, sandbox_kind: str, image: str) -> Preparation:
    hosts = registry_hosts() | frozenset(settings.allow_hosts)
    # A short path: a Unix socket's path may not exceed 107 bytes, and work directories can be deep.
    socket_dir = Path(tempfile.mkdtemp(prefix="paid-egress-"))
    try:
        with EgressProxy(socket_dir / "s", hosts) as proxy:
            sandbox = open_sandbox(sandbox_kind, worktree, image, egress=proxy.socket)
            try:
                result = sandbox.run(plan.script(), settings.timeout_seconds)
            finally:
                sandbox.close()
            reached, refused = tuple(proxy.log.allowed), tuple(proxy.log.refused)
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
    if result.returncode == 0 and not result.timed_out:
        return Preparation("prepared", reached=tuple(dict.fromkeys(reached)), refused=tuple(dict.fromkeys(refused)))
    marks = STEP_MARK.findall(result.output)
    step = plan.steps[int(marks[-1]) - 1] if marks else plan.steps[0]
    tail = "\n".join(result.output.rstrip().splitlines()[-TAIL_LINES:])
    return Preparation(
        "failed",
        failed_step=step,
        exit_code=result.returncode,
        tail=clean(tail, 6000),
        reached=tuple(dict.fromkeys(reached)),
        refused=tuple(dict.fromkeys(refused)),
    )
