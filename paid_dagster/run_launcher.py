"""Dagster's run launcher for Paid on one machine: each run's process is forked from a warm process that has
already imported the heavy libraries (Dagster, litellm, pandas, PyGithub, ...), so a run starts in a fraction
of a second instead of the ~6 s a fresh interpreter takes to import them. Named in dagster.yaml by
`run_launcher:` (`paid ui`, `make ui`). The Docker deployment keeps a container per run: `PaidDockerRunLauncher`,
Dagster's DockerRunLauncher with the same wait for the run's start before a terminate.

The warm process is the standard library's multiprocessing *forkserver*, started by the first launch in the
process that launches runs (the daemon's run queue), with `preload_modules` imported. Paid's own code is never
preloaded: each run imports it fresh (0.2 s), so a reloaded code location takes effect at the next run.

The run process then does exactly what `dagster api execute_run` does (the command every Dagster launcher
starts). Around it, what Dagster needs from a launcher:
- terminate: SIGINT to the run's process, which Dagster turns into its interruption (as the default launcher's
  code server does), found by the worker tags (`paid/worker_pid`, host, start time) the launch writes;
- run monitoring: a run whose process is gone (or whose pid now belongs to another process) is FAILED.
A run whose code is not loadable by this interpreter (a code location on another Python) goes to Dagster's
DefaultRunLauncher, unchanged.

The forkserver listens on a Unix socket in a private (0700) directory under the host's temporary directory;
agent sandboxes never see the host's /tmp (bubblewrap mounts a fresh tmpfs, Docker its own filesystem).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._core.origin import JobPythonOrigin
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value
from dagster_docker import DockerRunLauncher
from dagster_docker.docker_run_launcher import DOCKER_CONTAINER_ID_TAG

from .worker import Worker, gone, start_time

LAUNCHER_TAG = "paid/launcher"
FORKSERVER = "forkserver"
# Third-party libraries only (Paid's code stays fresh per run); a name that does not import is skipped.
DEFAULT_PRELOAD = (
    "dagster",
    "dagster._cli.api",
    "dagster._core.execution.api",
    "dagster_postgres",
    "litellm",
    "openai",
    "github",
    "pandas",
    "pydantic",
    "sqlalchemy",
    "docker",
    "yaml",
)
START_WAIT_SECONDS = 60.0  # terminate right after a launch waits for the run to start (well under a second)


def execute_run(serialized_args: str) -> None:
    """The run's process: `dagster api execute_run` in a forked interpreter. SIGINT and SIGTERM get a shell's
    handlers first (the forkserver ignores SIGINT, and a daemon started in the background may too), so that
    Dagster's interrupt handling turns a terminate into its interruption."""
    from dagster._cli.api import execute_run_command

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    execute_run_command.main(args=[serialized_args], prog_name="dagster api execute_run", standalone_mode=False)


def started(instance: DagsterInstance, run: DagsterRun, alive: Callable[[DagsterRun], bool]) -> DagsterRun:
    """The run once its process has started it (or ended, or died): only then are Dagster's interrupt handlers in
    place and is CANCELING kept. A terminate right after the launch would otherwise be lost twice over: a signal
    in the new process's first imports kills it without a word, and the run's start event turns CANCELING back
    into STARTED, so the interruption is taken for a failure."""
    deadline = time.monotonic() + START_WAIT_SECONDS
    while run.status in (DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED) and time.monotonic() < deadline:
        if not alive(run):
            break
        time.sleep(0.1)
        run = instance.get_run_by_id(run.run_id) or run
    return run


def forked_worker_gone(run: DagsterRun) -> bool:
    worker = Worker.from_tags(dict(run.tags))
    return worker is not None and bool(gone(worker))


class PaidDockerRunLauncher(DockerRunLauncher):
    """The deployment's launcher: Dagster's DockerRunLauncher (a container per run), whose terminate first waits
    for the run to start (see `started`; `container.stop` sends SIGTERM, which Dagster's handlers turn into its
    interruption once they are in place)."""

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run and not run.is_finished:
            started(self._instance, run, alive=self._container_running)
        return super().terminate(run_id)

    def _container_running(self, run: DagsterRun) -> bool:
        if not run.tags.get(DOCKER_CONTAINER_ID_TAG):
            return True  # the launch has not tagged it yet
        container = self._get_container(run)
        return container is not None and container.status in ("created", "running")


class ForkserverRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(self, inst_data: ConfigurableClassData | None = None, preload_modules: Sequence[str] = ()):
        self._inst_data = inst_data
        self._preload = list(preload_modules or DEFAULT_PRELOAD)
        self._processes: dict[str, multiprocessing.process.BaseProcess] = {}
        self._fallback: DefaultRunLauncher | None = None
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        from dagster import Array, Field

        return {
            "preload_modules": Field(
                Array(str),
                is_required=False,
                description="Modules the warm process imports once (third-party libraries, never Paid's own).",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data, preload_modules=config_value.get("preload_modules") or ())

    # --- launching ---

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if not self._runs_here(origin):
            self.fallback().launch_run(context)
            return
        self._instance.add_run_tags(run.run_id, {LAUNCHER_TAG: FORKSERVER})
        args = ExecuteRunArgs(
            job_origin=origin,  # type: ignore[arg-type]  # checked by _runs_here
            run_id=run.run_id,
            instance_ref=self._instance.get_ref(),
            set_exit_code_on_failure=True,
        )
        process = self._context().Process(
            target=execute_run, args=(serialize_value(args),), name=f"dagster-run-{run.run_id[:8]}", daemon=False
        )
        process.start()
        pid = process.pid or 0
        self._instance.add_run_tags(run.run_id, Worker(pid, socket.gethostname(), start_time(pid) or "").tags())
        self._instance.report_engine_event(
            f"Forked the run's process from the warm forkserver (pid {pid}).", run, cls=self.__class__
        )
        self._processes[run.run_id] = process
        multiprocessing.active_children()  # reaps the handles of runs that ended

    def _runs_here(self, origin: JobPythonOrigin | None) -> bool:
        """A run whose code this interpreter can load: same Python executable as this process."""
        if origin is None:
            return False
        executable = origin.repository_origin.executable_path
        return bool(executable) and os.path.realpath(executable) == os.path.realpath(sys.executable)

    def _context(self) -> Any:
        context = multiprocessing.get_context(FORKSERVER)
        context.set_forkserver_preload(self._preload)
        return context

    def fallback(self) -> DefaultRunLauncher:
        if self._fallback is None:
            self._fallback = DefaultRunLauncher()
            self._fallback.register_instance(self._instance)
        return self._fallback

    # --- stopping ---

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        if run.tags.get(LAUNCHER_TAG) != FORKSERVER:
            return self.fallback().terminate(run_id)
        run = started(self._instance, run, alive=lambda r: not forked_worker_gone(r))
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        worker = Worker.from_tags(dict(run.tags))
        if worker is None or worker.host != socket.gethostname():
            where = "no worker recorded" if worker is None else f"its process runs on {worker.host}"
            self._instance.report_engine_event(
                f"Cannot interrupt the run's process from {socket.gethostname()}: {where}.", run, cls=self.__class__
            )
            return False
        if gone(worker):
            return False
        os.kill(worker.pid, signal.SIGINT)
        return True

    # --- run monitoring ---

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """FAILED when the run's process is gone; RUNNING where this process cannot tell (a run launched by the
        default launcher, or whose worker is on another host), which leaves it to run monitoring's timeouts as
        with the default launcher."""
        worker = Worker.from_tags(dict(run.tags))
        if run.tags.get(LAUNCHER_TAG) != FORKSERVER or worker is None or gone(worker) is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not a forked run of this host")
        if gone(worker):
            return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's process (pid {worker.pid}) is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING)

    def get_run_worker_debug_info(self, run: DagsterRun, include_container_logs: bool | None = True) -> str | None:
        worker = Worker.from_tags(dict(run.tags))
        return None if worker is None else f"run process: pid {worker.pid} on {worker.host}"

    def join(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        for process in list(self._processes.values()):
            process.join(max(0.0, deadline - time.monotonic()))
