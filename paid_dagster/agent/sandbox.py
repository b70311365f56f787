"""Where the agent's commands run: bubblewrap or Docker isolation, or the host only by explicit opt-in."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..secrets import scrubbed_environment
from .cgroup import Cgroup

log = logging.getLogger(__name__)
OUTPUT_CAP = 64 * 1024


@dataclass(frozen=True)
class CommandResult:
    output: str
    returncode: int
    timed_out: bool = False
    truncated: bool = False


class SandboxUnavailable(RuntimeError):
    pass


class Sandbox(Protocol):
    name: str

    def run(self, command: str, timeout: int) -> CommandResult: ...

    def close(self) -> None: ...


def _run_capped(argv: list[str], cwd: Path | None, env: dict[str, str], timeout: int) -> CommandResult:
    """Runs `argv` in its own process group, keeps at most OUTPUT_CAP bytes, kills the group on timeout."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    chunks: list[bytes] = []
    size = 0
    truncated = False
    timed_out = False
    assert process.stdout is not None
    import selectors
    import time

    deadline = time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if not selector.select(timeout=min(remaining, 0.5)):
                if process.poll() is not None:
                    break
                continue
            data = os.read(process.stdout.fileno(), 65536)
            if not data:
                break
            if size < OUTPUT_CAP:
                chunks.append(data[: OUTPUT_CAP - size])
            else:
                truncated = True
                # Unbounded output: stop reading and end the command rather than buffer it.
                break
            size += len(data)
            if size > OUTPUT_CAP:
                truncated = True
    finally:
        selector.close()
        if timed_out or truncated or process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
    text = b"".join(chunks).decode("utf-8", errors="replace")
    if truncated:
        text += f"\n[output truncated at {OUTPUT_CAP} bytes]"
    if timed_out:
        text += f"\n[command timed out after {timeout} s]"
    return CommandResult(text, -9 if timed_out else (process.returncode or 0), timed_out, truncated)


def toolchain_dirs() -> list[str]:
    """The Python that runs Paid (its venv and base install), offered read-only so that the quality tools
    (ruff, mypy, pytest) exist in the sandbox; system directories are bound anyway."""
    dirs = []
    for directory in (sys.prefix, sys.base_prefix):
        if directory and not directory.startswith(("/usr", "/etc")) and directory not in dirs:
            dirs.append(directory)
    return dirs


def toolchain_path() -> str:
    return f"{sys.prefix}/bin" if sys.prefix != sys.base_prefix else ""


class LocalSandbox:
    """No isolation: commands run on the host in the worktree, with a scrubbed environment."""

    name = "local"

    def __init__(self, worktree: Path) -> None:
        self.worktree = worktree
        log.warning("sandbox 'local' gives the agent no isolation: use it only for code you trust")

    def run(self, command: str, timeout: int) -> CommandResult:
        env = scrubbed_environment(extra_path=toolchain_path())
        return _run_capped(["bash", "-c", command], self.worktree, env, timeout)

    def close(self) -> None:
        pass


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

    def __init__(self, worktree: Path, memory_mb: int = 2048, pids: int = 256) -> None:
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable("bubblewrap is not installed: `apt-get install bubblewrap` (make test does it)")
        self.worktree = worktree
        self.memory_mb = memory_mb
        self.pids = pids
        self.last_peak_pids: int | None = None

    def argv(self, command: str) -> list[str]:
        argv = ["bwrap"]
        for directory in self.SYSTEM_DIRS:
            argv += ["--ro-bind", directory, directory]
        for masked in self.MASKED_FILES:
            if os.path.isfile(masked):
                argv += ["--ro-bind", "/dev/null", masked]
        for masked in self.MASKED_DIRS:
            if os.path.isdir(masked):
                argv += ["--tmpfs", masked]
        for directory in toolchain_dirs():
            argv += ["--ro-bind", directory, directory]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                argv += ["--symlink", f"usr/{link}", f"/{link}"]
        argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        argv += ["--bind", str(self.worktree), "/workspace", "--chdir", "/workspace"]
        argv += ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
        argv += ["--uid", "1000", "--gid", "1000", "--hostname", "sandbox", "--remount-ro", "/"]
        for key, value in scrubbed_environment(extra_path=toolchain_path()).items():
            argv += ["--setenv", key, value]
        return [*argv, "prlimit", f"--fsize={512 * 1024 * 1024}", "--", "bash", "-c", command]

    def run(self, command: str, timeout: int) -> CommandResult:
        group = Cgroup(self.pids, self.memory_mb * 1024 * 1024)
        if not group.enforced:
            group.close()
            raise SandboxUnavailable(
                "cannot create a cgroup to cap the sandbox's processes (run Paid as root or give it a delegated"
                " cgroup); refusing to run commands without a process limit"
            )
        try:
            # bwrap itself becomes PID 1 of the sandbox: it must not carry the host's environment either.
            result = _run_capped(group.wrap(self.argv(command)), None, scrubbed_environment(), timeout)
            self.last_peak_pids = group.peak_pids()
            return result
        finally:
            group.close()

    def close(self) -> None:
        pass


def open_sandbox(kind: str, worktree: Path) -> Sandbox:
    if kind == "local":
        return LocalSandbox(worktree)
    if kind in ("bubblewrap", "auto"):
        if kind == "auto" and shutil.which("bwrap") is None:
            raise SandboxUnavailable(
                "no sandbox available: install bubblewrap (`apt-get install bubblewrap`) or set `sandbox: local`"
                " for the repository in paid.yaml to run without isolation"
            )
        return BubblewrapSandbox(worktree)
    raise SandboxUnavailable(f"sandbox {kind!r} is not available in this build; use bubblewrap or local")
