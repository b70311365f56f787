"""Running the label sensor and its runs in this process, as the daemon would, for the demo and tests.

The daemon adds the requested dynamic partitions, skips a run request whose run_key an earlier run
already used, and launches the rest with the sensor's tags; this does the same on the given instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import (
    DagsterInstance,
    Definitions,
    RunsFilter,
    SensorDefinition,
    SensorResult,
    SkipReason,
    build_sensor_context,
)

from paid_dagster.sensors import paid_label_sensor


@dataclass
class Tick:
    cursor: str | None
    skip_reason: str | None = None
    run_keys: list[str] = field(default_factory=list)
    launched: list[str] = field(default_factory=list)
    deduplicated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def sensor_tick(
    instance: DagsterInstance,
    defs: Definitions,
    cursor: str | None,
    execute: bool = True,
    log_level: str = "DEBUG",
    sensor: SensorDefinition = paid_label_sensor,
) -> Tick:
    resources = defs.resources or {}
    with build_sensor_context(instance_ref=instance.get_ref(), cursor=cursor, resources=resources) as context:
        result = sensor(context)
    if isinstance(result, SkipReason):
        return Tick(cursor, result.skip_message)
    assert isinstance(result, SensorResult)
    tick = Tick(result.cursor if result.cursor is not None else cursor)
    if result.skip_reason is not None:
        tick.skip_reason = result.skip_reason.skip_message
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys or []))
    for run_request in result.run_requests or []:
        job = defs.resolve_job_def(run_request.job_name or "paid_build")
        key = str(run_request.run_key)
        tick.run_keys.append(key)
        if instance.get_runs(RunsFilter(tags={"dagster/run_key": key}), limit=1):
            tick.deduplicated.append(key)
            continue
        if not execute:
            continue
        tags = {**run_request.tags, "dagster/run_key": key, "dagster/sensor_name": sensor.name}
        outcome = job.execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            instance=instance,
            partition_key=run_request.partition_key,
            tags=tags,
            asset_selection=list(run_request.asset_selection) if run_request.asset_selection else None,
            raise_on_error=False,
        )
        (tick.launched if outcome.success else tick.failed).append(outcome.run_id)
    return tick
