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
from typing import Any, Protocol

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

    def run(self, command: str, timeout: int, env: dict[str, str] | None = None) -> CommandResult: ...

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


GIT_VIEW = "/workspace.git"


def git_view(worktree: Path) -> Path | None:
    """Paid's git directory for these working files, shown read-only inside the sandbox (so `git diff` and
    `git log` work there) and never writable by it; None when the working files have no Paid git."""
    git_dir = worktree.parent / f"{worktree.name}.git"
    return git_dir if (git_dir / "HEAD").is_file() else None


def sandbox_environment(worktree: Path) -> dict[str, str]:
    env = scrubbed_environment(extra_path=toolchain_path())
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


class LocalSandbox:
    """No isolation: commands run on the host in the worktree, with a scrubbed environment."""

    name = "local"

    def __init__(self, worktree: Path) -> None:
        self.worktree = worktree
        log.warning("sandbox 'local' gives the agent no isolation: use it only for code you trust")

    def run(self, command: str, timeout: int, env: dict[str, str] | None = None) -> CommandResult:
        environment = {**scrubbed_environment(extra_path=toolchain_path()), **(env or {})}
        return _run_capped(["bash", "-c", command], self.worktree, environment, timeout)

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

    def __init__(
        self,
        worktree: Path,
        memory_mb: int = 2048,
        pids: int = 256,
        cpus: float = 1.0,
        network: bool = False,
        read_only: tuple[str, ...] = (),
    ) -> None:
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable("bubblewrap is not installed: `apt-get install bubblewrap` (make test does it)")
        self.worktree = worktree
        self.memory_mb = memory_mb
        self.pids = pids
        self.cpus = cpus
        self.network = network  # only for an engine that must reach its provider (see README: CLI engines)
        self.read_only = read_only
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
        for directory in [*toolchain_dirs(), *self.read_only]:
            argv += ["--ro-bind", directory, directory]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                argv += ["--symlink", f"usr/{link}", f"/{link}"]
        argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        argv += ["--bind", str(self.worktree), "/workspace", "--chdir", "/workspace"]
        git_dir = git_view(self.worktree)
        if git_dir is not None:
            argv += ["--ro-bind", str(git_dir), GIT_VIEW]
        argv += ["--unshare-all", *(["--share-net"] if self.network else []), "--die-with-parent", "--new-session"]
        argv += ["--clearenv"]
        argv += ["--uid", "1000", "--gid", "1000", "--hostname", "sandbox", "--remount-ro", "/"]
        for key, value in {**sandbox_environment(self.worktree), **(env or {})}.items():
            argv += ["--setenv", key, value]
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
            result = _run_capped(group.wrap(self.argv(command, env)), None, scrubbed_environment(), timeout)
            self.last_peak_pids = group.peak_pids()
            return result
        finally:
            group.close()

    def close(self) -> None:
        pass


DEFAULT_IMAGE = "paid-sandbox:bookworm"


class DockerSandbox:
    """A container per run (Docker SDK): no network, read-only root, non-root user, capped processes, memory
    and CPU, no capabilities, the worktree its only writable mount besides a small /tmp."""

    name = "docker"

    def __init__(
        self,
        worktree: Path,
        image: str = DEFAULT_IMAGE,
        memory_mb: int = 2048,
        pids: int = 256,
        cpus: float = 1.0,
        network: bool = False,
        read_only: tuple[str, ...] = (),
    ) -> None:
        try:
            import docker
            from docker.errors import DockerException, ImageNotFound

            self._client = docker.from_env()
            self._client.ping()
        except Exception as exc:
            raise SandboxUnavailable(
                f"the Docker engine is not reachable ({type(exc).__name__}); start dockerd (make test does) or use"
                " `sandbox: bubblewrap`"
            ) from exc
        try:
            self._client.images.get(image)
        except ImageNotFound as exc:
            raise SandboxUnavailable(
                f"the sandbox image {image} is missing: build it with scripts/build-sandbox-image.sh, or set"
                " `sandbox_image` in paid.yaml to an image you pull"
            ) from exc
        self._errors = DockerException
        self.worktree = worktree
        self.image = image
        self.memory_mb = memory_mb
        self.pids = pids
        self.cpus = cpus
        self.network = network
        self.read_only = read_only
        self.last_peak_pids: int | None = None
        self._reap_orphans()
        # The container's user (1000) must be able to write the worktree Paid cloned as another user.
        for path in [worktree, *worktree.rglob("*")]:
            if not path.is_symlink():
                os.chown(path, 1000, 1000)
        self._container = self._start()

    def _start(self) -> Any:
        volumes = {str(self.worktree): {"bind": "/workspace", "mode": "rw"}}
        for directory in [*toolchain_dirs(), *self.read_only]:
            volumes[directory] = {"bind": directory, "mode": "ro"}
        git_dir = git_view(self.worktree)
        if git_dir is not None:
            volumes[str(git_dir)] = {"bind": GIT_VIEW, "mode": "ro"}
        return self._client.containers.run(
            self.image,
            ["sleep", "infinity"],
            detach=True,
            auto_remove=True,
            network_mode="bridge" if self.network else "none",
            read_only=True,
            tmpfs={"/tmp": "rw,size=256m,mode=1777"},
            user="1000:1000",
            working_dir="/workspace",
            environment=sandbox_environment(self.worktree),
            volumes=volumes,
            mem_limit=f"{self.memory_mb}m",
            memswap_limit=f"{self.memory_mb}m",
            pids_limit=self.pids,
            nano_cpus=int(self.cpus * 1e9),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            hostname="sandbox",
            labels={"paid.sandbox": "1", "paid.owner_pid": str(os.getpid())},
            init=True,
        )

    def run(self, command: str, timeout: int, env: dict[str, str] | None = None) -> CommandResult:
        # `timeout` inside ends the command; the exec's output is read with the same cap as elsewhere.
        wrapped = ["timeout", "-s", "KILL", str(timeout), "bash", "-c", command]
        api = self._client.api
        exec_id = api.exec_create(
            self._container.id, wrapped, user="1000:1000", workdir="/workspace", environment=env or None
        )["Id"]
        stream = api.exec_start(exec_id, stream=True, demux=False)
        chunks: list[bytes] = []
        size, truncated = 0, False
        for data in stream:
            if size + len(data) > OUTPUT_CAP:
                chunks.append(data[: OUTPUT_CAP - size])
                truncated = True
                break
            chunks.append(data)
            size += len(data)
        code: int | None = -9 if truncated else api.exec_inspect(exec_id).get("ExitCode")
        if truncated or self._leftovers():
            # An exec cannot be killed by itself, and what it left running in the background would eat the
            # process budget of the next command: restart the container (the worktree lives on the host).
            self._restart()
        text = b"".join(chunks).decode("utf-8", errors="replace")
        timed_out = code in (124, 137) and not truncated
        if truncated:
            text += f"\n[output truncated at {OUTPUT_CAP} bytes]"
        if timed_out:
            text += f"\n[command timed out after {timeout} s]"
        return CommandResult(text, -9 if timed_out else int(code if code is not None else -1), timed_out, truncated)

    def _reap_orphans(self) -> int:
        """Sandboxes whose owning process is gone (a run killed without cleanup) are killed."""
        reaped = 0
        for container in self._client.containers.list(filters={"label": "paid.sandbox=1"}):
            owner = int(container.labels.get("paid.owner_pid", "0") or 0)
            if owner and _alive(owner):
                continue
            with contextlib.suppress(self._errors):
                container.kill()
                reaped += 1
        return reaped

    def _leftovers(self) -> bool:
        """Processes still running besides the container's init and its `sleep`."""
        try:
            processes = self._container.top()["Processes"] or []
        except self._errors:
            return True
        return len(processes) > 2

    def _restart(self) -> None:
        with contextlib.suppress(self._errors):
            self._container.kill()
        self._container = self._start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._container.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_sandbox(
    kind: str, worktree: Path, image: str = DEFAULT_IMAGE, network: bool = False, read_only: tuple[str, ...] = ()
) -> Sandbox:
    """`network` and `read_only` (host directories shown read-only) are for CLI engines, which must reach their
    provider and need their own installation; the agent's commands and the project's checks get neither."""
    if kind == "local":
        return LocalSandbox(worktree)
    if kind == "docker":
        return DockerSandbox(worktree, image, network=network, read_only=read_only)
    if kind in ("bubblewrap", "auto"):
        if kind == "auto" and shutil.which("bwrap") is None:
            try:
                return DockerSandbox(worktree, image, network=network, read_only=read_only)
            except SandboxUnavailable as exc:
                raise SandboxUnavailable(
                    f"no sandbox available: install bubblewrap (`apt-get install bubblewrap`) or Docker ({exc}); or"
                    " set `sandbox: local` for the repository in paid.yaml to run without isolation"
                ) from exc
        return BubblewrapSandbox(worktree, network=network, read_only=read_only)
    raise SandboxUnavailable(f"unknown sandbox {kind!r}: use auto, bubblewrap, docker or local")
