"""bubblewrap: new namespaces, the system read-only, only the working files writable, capped by a cgroup."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .base import (
    GIT_VIEW,
    CommandResult,
    SandboxUnavailable,
    git_view,
    run_capped,
    sandbox_environment,
    scrubbed_environment,
    toolchain_dirs,
)
from .cgroup import Cgroup
from .egress import SOCKET_IN_SANDBOX, proxy_environment, through_relay


class BubblewrapSandbox:
    """bwrap: new namespaces (no network but loopback), system dirs read-only, only the worktree writable.

    Processes and memory are capped by a cgroup around bwrap (RLIMIT_NPROC does not bind root, whom the
    sandbox's user maps to); prlimit inside adds a file-size cap.
    """

    name = "bubblewrap"
    SYSTEM_DIRS = ("/usr", "/etc")
    # The sandbox's user maps to the caller's, so files only root may read must be hidden, not just protected.
    MASKED_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers", "/etc/machine-id")
    MASKED_DIRS = ("/etc/ssh", "/etc/sudoers.d", "/etc/ssl/private", "/etc/postgresql", "/etc/docker", "/etc/security")

    def __init__(
        self,
        worktree: Path,
        memory_mb: int = 2048,
        pids: int = 256,
        cpus: float = 1.0,
        network: bool = False,
        read_only: tuple[str, ...] = (),
        egress: Path | None = None,
    ) -> None:
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable("bubblewrap is not installed: `apt-get install bubblewrap` (make test does it)")
        self.worktree = worktree
        self.memory_mb = memory_mb
        self.pids = pids
        self.cpus = cpus
        self.network = network  # only for an engine that must reach its provider (see README: CLI engines)
        self.read_only = read_only
        self.egress = egress  # the socket of an EgressProxy: the only way out (registries during setup)
        self.last_peak_pids: int | None = None

    def argv(self, command: str, env: dict[str, str] | None = None) -> list[str]:
        argv = ["bwrap"]
        for directory in self.SYSTEM_DIRS:
            argv += ["--ro-bind", directory, directory]
        for masked in self.MASKED_FILES:
            if os.path.isfile(masked):
                argv += ["--ro-bind", "/dev/null", masked]
        for masked in self.MASKED_DIRS:
            if os.path.isdir(masked):
                argv += ["--tmpfs", masked]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                argv += ["--symlink", f"usr/{link}", f"/{link}"]
        argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        # After the fresh /tmp: a Paid (or its virtualenv) that lives under /tmp must stay visible.
        for directory in [*toolchain_dirs(), *self.read_only]:
            argv += ["--ro-bind", directory, directory]
        if self.egress is not None:
            argv += ["--bind", str(self.egress), SOCKET_IN_SANDBOX]
        argv += ["--bind", str(self.worktree), "/workspace", "--chdir", "/workspace"]
        git_dir = git_view(self.worktree)
        if git_dir is not None:
            argv += ["--ro-bind", str(git_dir), GIT_VIEW]
        argv += ["--unshare-all", *(["--share-net"] if self.network else []), "--die-with-parent", "--new-session"]
        argv += ["--clearenv"]
        argv += ["--uid", "1000", "--gid", "1000", "--hostname", "sandbox", "--remount-ro", "/"]
        egress_env = proxy_environment() if self.egress is not None else {}
        for key, value in {**sandbox_environment(self.worktree), **egress_env, **(env or {})}.items():
            argv += ["--setenv", key, value]
        if self.egress is not None:
            command = through_relay(command)
        return [*argv, "prlimit", f"--fsize={512 * 1024 * 1024}", "--", "bash", "-c", command]

    def run(self, command: str, timeout: int, env: dict[str, str] | None = None) -> CommandResult:
        group = Cgroup(self.pids, self.memory_mb * 1024 * 1024, self.cpus)
        if not group.enforced:
            group.close()
            raise SandboxUnavailable(
                "cannot create a cgroup to cap the sandbox's processes (run Paid as root or give it a delegated"
                " cgroup); refusing to run commands without a process limit"
            )
        try:
            # bwrap itself becomes PID 1 of the sandbox: it must not carry the host's environment either.
            result = run_capped(group.wrap(self.argv(command, env)), None, scrubbed_environment(), timeout)
            self.last_peak_pids = group.peak_pids()
            return result
        finally:
            group.close()

    def close(self) -> None:
        pass
