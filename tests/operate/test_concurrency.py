"""The run queue's caps from paid.yaml: rendered into dagster.yaml, and a partition's run tagged with its
repository however it was launched (so the per-repository cap counts UI launches too)."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import SubmitRunContext

from paid_dagster.concurrency import run_coordinator, with_run_coordinator
from paid_dagster.config import ConcurrencySettings, parse_config
from paid_dagster.run_queue import PaidRunCoordinator

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = RemoteJobOrigin(RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("paid"), "__repository__"), "paid_build")


def new_run(tags: dict[str, str], job_name: str = "paid_build") -> DagsterRun:
    return DagsterRun(
        job_name=job_name,
        run_id=str(uuid.uuid4()),
        status=DagsterRunStatus.NOT_STARTED,
        tags=tags,
        remote_job_origin=ORIGIN,
    )


def test_the_section_becomes_a_global_and_a_per_repository_cap() -> None:
    config = parse_config(
        {"repositories": [{"name": "octo/shop-cart"}], "concurrency": {"max_runs": 7, "per_repository": 3}}
    )
    rendered = run_coordinator(config.concurrency)
    assert rendered["config"]["max_concurrent_runs"] == 7
    assert rendered["config"]["tag_concurrency_limits"] == [
        {"key": "paid/repo", "value": {"applyLimitPerUniqueValue": True}, "limit": 3},
        {"key": "paid/build_of", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},  # one agent per issue
    ]


def test_the_block_is_replaced_and_the_rest_of_the_file_kept() -> None:
    template = (ROOT / "paid_dagster/instance/dagster.yaml").read_text()
    text = with_run_coordinator(template, ConcurrencySettings(max_runs=5, per_repository=1))
    parsed, original = yaml.safe_load(text), yaml.safe_load(template)
    assert parsed["run_coordinator"]["config"]["max_concurrent_runs"] == 5
    assert parsed["run_coordinator"]["config"]["tag_concurrency_limits"][0]["limit"] == 1
    assert {k: v for k, v in parsed.items() if k != "run_coordinator"} == {
        k: v for k, v in original.items() if k != "run_coordinator"
    }
    assert "# A run whose worker died" in text  # comments survive
    assert text.count("run_coordinator:") == 1
    # Idempotent, and added when the file has no such block.
    assert with_run_coordinator(text, ConcurrencySettings(max_runs=5, per_repository=1)) == text
    added = yaml.safe_load(with_run_coordinator("telemetry:\n  enabled: false\n", ConcurrencySettings()))
    assert added["run_coordinator"]["class"] == "PaidRunCoordinator" and added["telemetry"] == {"enabled": False}


def test_both_shipped_instances_use_paid_s_queue() -> None:
    for name in ("dagster.yaml", "dagster.postgres.yaml"):
        coordinator = yaml.safe_load((ROOT / "paid_dagster/instance" / name).read_text())["run_coordinator"]
        assert (coordinator["module"], coordinator["class"]) == ("paid_dagster.run_queue", "PaidRunCoordinator")
        assert coordinator["config"]["tag_concurrency_limits"][0]["key"] == "paid/repo"


def test_a_run_launched_without_paid_tags_is_counted_against_its_repository(tmp_path: Path) -> None:
    overrides = {"run_coordinator": run_coordinator(ConcurrencySettings(max_runs=3, per_repository=1))}
    with DagsterInstance.local_temp(str(tmp_path), overrides=overrides) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, PaidRunCoordinator)
        ui_launch = new_run({"dagster/partition": "octo__shop-cart__12"})
        instance.add_run(ui_launch)
        queued = coordinator.submit_run(SubmitRunContext(ui_launch, None))  # type: ignore[arg-type]
        assert queued.status == DagsterRunStatus.QUEUED
        assert queued.tags["paid/repo"] == "octo/shop-cart" and queued.tags["paid/issue"] == "12"
        assert queued.tags["paid/build_of"] == "octo__shop-cart__12"
        # A run that names its repository keeps it; a run of no issue partition is left alone.
        labeled = new_run({"dagster/partition": "octo__shop-cart__13", "paid/repo": "octo/shop-cart"})
        rollup = new_run({"dagster/partition": "2026-11-22"}, "paid_costs")
        score = new_run({"dagster/partition": "octo__shop-cart__12"}, "paid_score")  # no agent: takes no slot
        for run in (labeled, rollup, score):
            instance.add_run(run)
            coordinator.submit_run(SubmitRunContext(run, None))  # type: ignore[arg-type]
        labeled_tags = instance.get_run_by_id(labeled.run_id).tags  # type: ignore[union-attr]
        assert labeled_tags["paid/repo"] == "octo/shop-cart" and labeled_tags["paid/build_of"] == "octo__shop-cart__13"
        assert "paid/repo" not in instance.get_run_by_id(rollup.run_id).tags  # type: ignore[union-attr]
        assert "paid/repo" not in instance.get_run_by_id(score.run_id).tags  # type: ignore[union-attr]
