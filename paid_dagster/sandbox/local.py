"""No isolation: the explicit opt-in for code you trust."""

from __future__ import annotations

import logging
from pathlib import Path

from .base import CommandResult, run_capped, scrubbed_environment, toolchain_path

log = logging.getLogger(__name__)


class LocalSandbox:
    """No isolation: commands run on the host in the worktree, with a scrubbed environment."""

    name = "local"

    def __init__(self, worktree: Path) -> None:
        self.worktree = worktree
        log.warning("sandbox 'local' gives the agent no isolation: use it only for code you trust")

    def run(self, command: str, timeout: int, env: dict[str, str] | None = None) -> CommandResult:
        environment = {**scrubbed_environment(extra_path=toolchain_path()), **(env or {})}
        return run_capped(["bash", "-c", command], self.worktree, environment, timeout)

    def close(self) -> None:
        pass
