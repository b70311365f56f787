"""The sandbox: where the agent's commands, the project's checks and CLI engines run, apart from the host.

No Dagster, no agent: the agent and the checks both import this package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .base import (
    GIT_VIEW,
    OUTPUT_CAP,
    CommandResult,
    Sandbox,
    SandboxUnavailable,
    git_view,
    run_capped,
    scrubbed_environment,
    toolchain_dirs,
    toolchain_path,
)
from .bubblewrap import BubblewrapSandbox
from .docker import DEFAULT_IMAGE, DockerSandbox
from .local import LocalSandbox


def open_sandbox(
    kind: str,
    worktree: Path,
    image: str = DEFAULT_IMAGE,
    network: bool = False,
    read_only: tuple[str, ...] = (),
    egress: Path | None = None,
) -> Sandbox:
    """`network` and `read_only` (host directories shown read-only) are for CLI engines, which must reach their
    provider and need their own installation; the agent's commands and the project's checks get neither.
    `egress` (an `EgressProxy`'s socket) is the setup phase's only way out: to the package registries."""
    if kind == "local":
        return LocalSandbox(worktree)
    if kind == "docker":
        return DockerSandbox(worktree, image, network=network, read_only=read_only, egress=egress)
    if kind in ("bubblewrap", "auto"):
        if kind == "auto" and shutil.which("bwrap") is None:
            try:
                return DockerSandbox(worktree, image, network=network, read_only=read_only, egress=egress)
            except SandboxUnavailable as exc:
                raise SandboxUnavailable(
                    f"no sandbox available: install bubblewrap (`apt-get install bubblewrap`) or Docker ({exc}); or"
                    " set `sandbox: local` for the repository in paid.yaml to run without isolation"
                ) from exc
        return BubblewrapSandbox(worktree, network=network, read_only=read_only, egress=egress)
    raise SandboxUnavailable(f"unknown sandbox {kind!r}: use auto, bubblewrap, docker or local")


__all__ = [
    "DEFAULT_IMAGE",
    "GIT_VIEW",
    "OUTPUT_CAP",
    "BubblewrapSandbox",
    "CommandResult",
    "DockerSandbox",
    "LocalSandbox",
    "Sandbox",
    "SandboxUnavailable",
    "git_view",
    "open_sandbox",
    "run_capped",
    "scrubbed_environment",
    "toolchain_dirs",
    "toolchain_path",
]
