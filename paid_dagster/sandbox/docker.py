"""Docker: a container per run with no network, a read-only root, a non-root user and capped resources."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from .base import GIT_VIEW, OUTPUT_CAP, CommandResult, SandboxUnavailable, git_view, sandbox_environment, toolchain_dirs
from .egress import SOCKET_IN_SANDBOX, proxy_environment, through_relay

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
        egress: Path | None = None,
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
        self.egress = egress  # the socket of an EgressProxy: the only way out (registries during setup)
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
        if self.egress is not None:
            volumes[str(self.egress)] = {"bind": SOCKET_IN_SANDBOX, "mode": "rw"}
            # The machine's CA bundle and pip's settings: the image's own may not trust the machine's network.
            for shared in ("/etc/ssl/certs", "/etc/pip.conf"):
                if os.path.exists(shared):
                    volumes[shared] = {"bind": shared, "mode": "ro"}
        return self._client.containers.run(
            self.image,
            ["sleep", "infinity"],
            detach=True,
            auto_remove=True,
            network_mode="bridge" if self.network else "none",
            read_only=True,
            # exec: setup installs tools there (uv for a uv.lock); the writable worktree is executable anyway.
            tmpfs={"/tmp": "rw,exec,size=256m,mode=1777"},
            user="1000:1000",
            working_dir="/workspace",
            environment={**sandbox_environment(self.worktree), **(proxy_environment() if self.egress else {})},
            volumes=volumes,
            mem_limit=f"{self.memory_mb}m",
            memswap_limit=f"{self.memory_mb}m",
            pids_limit=self.pids,
            nano_cpus=int(self.cpus * 1e9),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            hostname="sandbox",
            labels=owner_labels(),
            init=True,
        )

    def run(self, command: str, timeout: int, env: dict[str, str] | None = None) -> CommandResult:
        # `timeout` inside ends the command; the exec's output is read with the same cap as elsewhere.
        if self.egress is not None:
            command = through_relay(command)
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
            if not self._owner_gone(container.labels):
                continue
            with contextlib.suppress(self._errors):
                container.kill()
                reaped += 1
        return reaped

    def _owner_gone(self, labels: dict[str, str]) -> bool:
        """Whether the process that started a sandbox is gone. A pid means something in its own pid namespace
        only: a sandbox started from a deployment's run container (a sibling container) is gone with that
        container; one started on another host is left alone."""
        host = labels.get("paid.owner_host", "")
        if host and host != socket.gethostname():
            if labels.get("paid.owner_in_container") != "1":
                return False
            from docker.errors import NotFound

            try:
                return bool(self._client.containers.get(host).status != "running")
            except NotFound:
                return True  # removed (a run's container is removed when it ends)
        owner = int(labels.get("paid.owner_pid", "0") or 0)
        return not (owner and _alive(owner))

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


def owner_labels() -> dict[str, str]:
    """Who started a sandbox: its pid, host name and whether it runs in a container of this Docker engine (a
    deployment's run container, which says so in $PAID_IN_CONTAINER; its host name is then its id, which the
    engine can be asked about)."""
    return {
        "paid.sandbox": "1",
        "paid.owner_pid": str(os.getpid()),
        "paid.owner_host": socket.gethostname(),
        "paid.owner_in_container": "1" if os.environ.get("PAID_IN_CONTAINER") == "1" else "0",
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
