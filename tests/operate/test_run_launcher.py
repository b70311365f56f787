"""The forkserver run launcher on a real Dagster instance (SQLite and PostgreSQL): runs are forked from one warm
process, load the code location's current files, stop on terminate (from another launcher, as the webserver or
`paid stop` would), and a run whose process was killed is seen as failed by run monitoring's health check."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.launcher.base import WorkerStatus
from paid_standins.dagster_dev import wait_until

from paid_dagster.run_launcher import FORKSERVER, LAUNCHER_TAG, ForkserverRunLauncher
from paid_dagster.worker import Worker

from ..databases import postgres_database

JOBS = """
import json, os, sys, time
from pathlib import Path
from dagster import Definitions, in_process_executor, job, op

MARK = "{mark}"
OUT = Path(__file__).parent / "out"


@op
def record(context):
    preloaded = "litellm" in sys.modules  # imported by the warm process, not by this job
    facts = {{"pid": os.getpid(), "ppid": os.getppid(), "mark": MARK, "litellm_preloaded": preloaded}}
    (OUT / f"{{context.run_id}}.json").write_text(json.dumps(facts))


@op
def wait(context):
    (OUT / f"{{context.run_id}}.waiting").write_text(str(os.getpid()))
    try:
        time.sleep(300)
    except BaseException as exc:
        (OUT / f"{{context.run_id}}.interrupted").write_text(type(exc).__name__)
        raise


@job(executor_def=in_process_executor)  # the step runs in the run's own process
def record_job():
    record()


@job(executor_def=in_process_executor)
def wait_job():
    wait()


defs = Definitions(jobs=[record_job, wait_job])
"""


def wait_for(predicate, seconds: float, what: str):  # type: ignore[no-untyped-def]
    return wait_until(predicate, seconds, interval=0.1, what=what)


def write_jobs(code: Path, mark: str) -> Path:
    code.mkdir(exist_ok=True)
    (code / "out").mkdir(exist_ok=True)
    path = code / "forked_jobs.py"
    path.write_text(textwrap.dedent(JOBS.format(mark=mark)))
    return path


@contextlib.contextmanager
def instance_at(home: Path, storage: str) -> Iterator[DagsterInstance]:
    config: dict = {
        "telemetry": {"enabled": False},
        "run_launcher": {"module": "paid_dagster.run_launcher", "class": "ForkserverRunLauncher"},
    }
    with contextlib.ExitStack() as stack:
        if storage == "postgres":
            url = stack.enter_context(postgres_database("launcher"))
            config["storage"] = {"postgres": {"postgres_url": url}}
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
        instance = DagsterInstance.from_config(str(home))
        try:
            yield instance
        finally:
            instance.run_launcher.join(timeout=60)  # the runs' processes end before their database goes
            instance.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DagsterInstance]:
    with instance_at(tmp_path / "home", request.param) as inst:
        yield inst


def launch(instance: DagsterInstance, jobs: Path, job_name: str) -> str:
    repo = ReconstructableRepository.for_file(str(jobs), "defs", working_directory=str(jobs.parent))
    recon = repo.get_reconstructable_job(job_name)
    run = instance.create_run_for_job(job_def=recon.get_definition(), job_code_origin=recon.get_python_origin())
    instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]  # the forkserver needs none
    return run.run_id


def finished(instance: DagsterInstance, run_id: str) -> DagsterRunStatus | None:
    run = instance.get_run_by_id(run_id)
    return run.status if run and run.is_finished else None


def test_runs_are_forked_from_one_warm_process_and_load_the_current_code(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    jobs = write_jobs(tmp_path / "code", "first")
    assert isinstance(instance.run_launcher, ForkserverRunLauncher)
    first = launch(instance, jobs, "record_job")
    assert wait_for(lambda: finished(instance, first), 120, "the first run") == DagsterRunStatus.SUCCESS
    write_jobs(tmp_path / "code", "second")  # the code changed between two runs: no restart
    second = launch(instance, jobs, "record_job")
    assert wait_for(lambda: finished(instance, second), 120, "the second run") == DagsterRunStatus.SUCCESS

    facts = [json.loads((jobs.parent / "out" / f"{run_id}.json").read_text()) for run_id in (first, second)]
    assert [f["mark"] for f in facts] == ["first", "second"]  # each run imported the job's code afresh
    assert all(f["litellm_preloaded"] for f in facts)  # ...and found the heavy libraries imported already
    assert facts[0]["ppid"] == facts[1]["ppid"] != os.getpid()  # forked by the same warm process, not by us
    assert facts[0]["pid"] != facts[1]["pid"]
    for run_id, fact in zip((first, second), facts, strict=True):
        tags = instance.get_run_by_id(run_id).tags  # type: ignore[union-attr]
        assert tags[LAUNCHER_TAG] == FORKSERVER
        assert Worker.from_tags(dict(tags)).pid == fact["pid"]  # type: ignore[union-attr]


def test_terminate_from_another_process_s_launcher_interrupts_the_step(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    jobs = write_jobs(tmp_path / "code", "v")
    run_id = launch(instance, jobs, "wait_job")
    out = jobs.parent / "out"
    wait_for(lambda: (out / f"{run_id}.waiting").exists(), 120, "the step to start")

    # The webserver or `paid stop` terminates with a launcher of its own: it knows the run only by its tags.
    elsewhere = ForkserverRunLauncher()
    elsewhere.register_instance(instance)
    assert elsewhere.terminate(run_id) is True
    assert wait_for(lambda: finished(instance, run_id), 60, "the run to end") == DagsterRunStatus.CANCELED
    assert (out / f"{run_id}.interrupted").read_text() == "DagsterExecutionInterruptedError"
    assert elsewhere.terminate(run_id) is False  # finished: nothing to stop


def test_a_killed_run_process_is_reported_failed_to_run_monitoring(instance: DagsterInstance, tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "code", "v")
    run_id = launch(instance, jobs, "wait_job")
    out = jobs.parent / "out"
    pid = int(
        wait_for(
            lambda: (out / f"{run_id}.waiting").exists() and (out / f"{run_id}.waiting").read_text(), 120, "the step"
        )
    )
    launcher = instance.run_launcher
    run = instance.get_run_by_id(run_id)
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING  # type: ignore[arg-type]

    os.kill(pid, signal.SIGKILL)
    health = wait_for(
        lambda: (h := launcher.check_run_worker_health(run)).status == WorkerStatus.FAILED and h,  # type: ignore[arg-type]
        30,
        "the health check to see the dead process",
    )
    assert str(pid) in (health.msg or "")
    assert not (out / f"{run_id}.interrupted").exists()  # SIGKILL: no step code ran after it


def test_a_run_of_another_python_goes_to_the_default_launcher(instance: DagsterInstance, tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "code", "v")
    repo = ReconstructableRepository.for_file(str(jobs), "defs", working_directory=str(jobs.parent))
    recon = repo.get_reconstructable_job("record_job")
    origin = recon.get_python_origin()
    other = origin._replace(repository_origin=origin.repository_origin._replace(executable_path="/usr/bin/python3"))
    run = instance.create_run_for_job(job_def=recon.get_definition(), job_code_origin=other)
    # The default launcher needs the code location's server, which only a workspace gives: it refuses plainly.
    with pytest.raises(Exception, match="workspace"):
        instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]
    tags = instance.get_run_by_id(run.run_id).tags  # type: ignore[union-attr]
    assert LAUNCHER_TAG not in tags and "paid/worker_pid" not in tags
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING  # type: ignore[union-attr]
    assert sys.executable != "/usr/bin/python3"


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.postgres.yaml"])
def test_both_instances_paid_ui_uses_launch_runs_this_way(name: str) -> None:
    shipped = yaml.safe_load((Path(__file__).resolve().parents[2] / "paid_dagster/instance" / name).read_text())
    assert shipped["run_launcher"] == {"module": "paid_dagster.run_launcher", "class": "ForkserverRunLauncher"}
    assert shipped["run_monitoring"]["enabled"] is True  # it acts on the launcher's health check


def test_terminate_right_after_the_launch_cancels_the_run(instance: DagsterInstance, tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "code", "v")
    run_id = launch(instance, jobs, "wait_job")
    elsewhere = ForkserverRunLauncher()
    elsewhere.register_instance(instance)
    assert elsewhere.terminate(run_id) is True  # the run's process may not have reached Dagster's code yet
    assert wait_for(lambda: finished(instance, run_id), 60, "the run to end") == DagsterRunStatus.CANCELED
