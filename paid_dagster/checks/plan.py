"""The checks of one agent run: chosen once from the base commit's files, run there first as the baseline
(cached), then after each round and compared with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CheckCommand
from ..sandbox import Sandbox, SandboxUnavailable
from .baseline import Baseline, baseline_key, compare, load_cached, store, unusable_because
from .discovery import checks_for
from .findings import NOT_RUN, CheckResult
from .runner import Check, run_checks


@dataclass
class ChecksPlan:
    """`configured`: the repository's `checks:` in paid.yaml; `environment_key`: the prepared environment's
    key ("" when none); `cache_dir`: where baselines are kept (none: not cached)."""

    configured: tuple[CheckCommand, ...] = ()
    base_branch: str = "main"
    base_commit: str = ""
    environment_key: str = ""
    cache_dir: Path | None = None
    checks: list[Check] = field(default_factory=list)
    baseline: Baseline | None = None
    setup_failed: str = ""  # the step at which an optional setup failed: why a project's tool may be missing

    def _explained(self, results: list[CheckResult]) -> list[CheckResult]:
        """A check that did not run after a failed setup says so: its tool was to come from that environment."""
        if self.setup_failed:
            for result in results:
                if result.status == NOT_RUN and "setup failed" not in result.note:
                    result.note = f"{result.note} (the environment's setup failed at `{self.setup_failed}`)"
        return results

    def key(self) -> str:
        return baseline_key(self.base_commit, self.environment_key, [c.command for c in self.checks])

    def prepare(self, sandbox: Sandbox, root: Path, timeout: int) -> Baseline:
        """Chooses the checks from the working files as they are (the base commit) and runs them there."""
        self.checks = checks_for(root, self.configured)
        self.baseline = self._baseline(sandbox, root, timeout)
        return self.baseline

    def _baseline(self, sandbox: Sandbox, root: Path, timeout: int) -> Baseline:
        key = self.key()
        cached = load_cached(self.cache_dir, key) if self.base_commit else None
        if cached is not None:
            return Baseline(key, cached, cached=True, problem=unusable_because(cached))
        try:
            results = self._explained(run_checks(sandbox, root, timeout, self.checks))
        except (SandboxUnavailable, OSError) as exc:
            return Baseline(key, [], problem=f"{type(exc).__name__}: {exc}")
        problem = unusable_because(results)
        if self.base_commit and not problem:
            store(self.cache_dir, key, results)
        return Baseline(key, results, problem=problem)

    def run_round(self, sandbox: Sandbox, root: Path, timeout: int) -> list[CheckResult]:
        return compare(self._explained(run_checks(sandbox, root, timeout, self.checks)), self.baseline)

    def baseline_event(self, run_id: str) -> dict[str, Any]:
        baseline = self.baseline or Baseline(self.key(), [], problem="not run")
        return {
            "run_id": run_id,
            "base": self.base_branch,
            "base_commit": self.base_commit,
            "environment_key": self.environment_key,
            "key": baseline.key,
            "cached": baseline.cached,
            "status": "could not run" if baseline.problem else "ran",
            "problem": baseline.problem,
            "checks": [r.as_dict() for r in baseline.results],
        }
