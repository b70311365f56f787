"""What every sandbox is: a place to run one command with a timeout, capped output and none of the host's
environment; the working files at /workspace and Paid's git shown read-only at /workspace.git."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

OUTPUT_CAP = 64 * 1024
GIT_VIEW = "/workspace.git"


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

    def run(self, command: str, timeout: int, env: dict[str, str] | None = None) -> CommandResult: ...

    def close(self) -> None: ...


def run_capped(argv: list[str], cwd: Path | None, env: dict[str, str], timeout: int) -> CommandResult:
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
    """The Python that runs Paid (its venv and base install), offered read-only so that the bundled check tools
    (ruff, mypy, pytest) exist in the sandbox; system directories are bound anyway."""
    dirs = []
    for directory in (sys.prefix, sys.base_prefix):
        if directory and not directory.startswith(("/usr", "/etc")) and directory not in dirs:
            dirs.append(directory)
    return dirs


def toolchain_path() -> str:
    return f"{sys.prefix}/bin" if sys.prefix != sys.base_prefix else ""


def git_view(worktree: Path) -> Path | None:
    """Paid's git directory for these working files, shown read-only inside the sandbox (so `git diff` and
    `git log` work there) and never writable by it; None when the working files have no Paid git."""
    git_dir = worktree.parent / f"{worktree.name}.git"
    return git_dir if (git_dir / "HEAD").is_file() else None


# The prepared environment's tools come first: the project's own ruff, pytest, eslint, not Paid's.
PREPARED_PATH = "/workspace/.venv/bin:/workspace/node_modules/.bin"
PREPARED_ENV = {
    "GOPATH": "/workspace/.paid-env/go",
    "GOMODCACHE": "/workspace/.paid-env/go/pkg/mod",
    "CARGO_HOME": "/workspace/.paid-env/cargo",
    "BUNDLE_PATH": "/workspace/.paid-env/bundle",
    "npm_config_cache": "/tmp/.npm",
}


def sandbox_environment(worktree: Path) -> dict[str, str]:
    toolchain = toolchain_path()
    env = scrubbed_environment(extra_path=f"{PREPARED_PATH}:{toolchain}" if toolchain else PREPARED_PATH)
    env.update(PREPARED_ENV)
    if git_view(worktree) is not None:
        env.update(
            {
                "GIT_DIR": GIT_VIEW,
                "GIT_WORK_TREE": "/workspace",
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "safe.directory",
                "GIT_CONFIG_VALUE_0": "*",
            }
        )
    return env


def scrubbed_environment(keep: tuple[str, ...] = ("LANG", "LC_ALL", "TZ"), extra_path: str = "") -> dict[str, str]:
    """The environment a sandboxed command gets: a fixed PATH and nothing of the host's."""
    env = {k: os.environ[k] for k in keep if k in os.environ}
    path = "/usr/local/bin:/usr/bin:/bin"
    env.update({"PATH": f"{extra_path}:{path}" if extra_path else path, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"})
    return env
