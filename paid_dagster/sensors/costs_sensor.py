"""The late-costs sensor: yesterday's `llm_costs` partition again, once calls it has not counted exist.

`AutomationCondition.on_cron` materializes the latest daily partition only, so the calls of a day's last
half hour (after the last cron tick before midnight) would stay missing until someone backfilled the day.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from ..assets.outcomes import LEDGER_SEQ
from ..jobs import paid_costs_job
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..outcomes.costs import day_bounds
from ..resources import LedgerResource


def uncounted_calls(instance: DagsterInstance, ledger: Ledger, day: date) -> int:
    """The sequence number of the day's newest `llm.call` that its latest `llm_costs` materialization has not
    counted (recorded after it), or 0 when it counted them all."""
    since, until = day_bounds(day)
    newest = ledger.last_seq(Kind.LLM_CALL, since, until)
    if not newest:
        return 0
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("llm_costs"), asset_partitions=[day.isoformat()]), limit=1
    ).records
    if not records:
        return newest
    materialization = records[0].asset_materialization
    seen = materialization.metadata.get(LEDGER_SEQ) if materialization else None
    if seen is not None:
        return newest if newest > int(seen.value) else 0  # type: ignore[arg-type]
    # A materialization from before `ledger_seq` was recorded: calls recorded after it are late.
    at = datetime.fromtimestamp(records[0].timestamp, UTC)
    late = ledger.read(kinds=[Kind.LLM_CALL], since=max(since, at), until=until, limit=1)
    return newest if late else 0


@sensor(
    name="paid_late_costs_sensor",
    job=paid_costs_job,
    minimum_interval_seconds=int(os.environ.get("PAID_COSTS_SENSOR_INTERVAL", "300")),
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-materializes yesterday's llm_costs partition once calls it has not counted exist (late calls).",
)
def paid_late_costs_sensor(context: SensorEvaluationContext, ledger: LedgerResource) -> SensorResult:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    newest = uncounted_calls(context.instance, ledger.ledger(), yesterday)
    if not newest:
        return SensorResult(skip_reason=f"llm_costs[{yesterday}] has counted every call of its day")
    return SensorResult(
        run_requests=[
            RunRequest(
                job_name=paid_costs_job.name,
                run_key=f"llm_costs:{yesterday}:{newest}",
                partition_key=yesterday.isoformat(),
                tags={"paid/cause": "late_costs"},
            )
        ]
    )
