"""Outcomes: the quality score of each issue, LLM costs per day, spend per project, and the gates on them."""

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from dagster import (
    AllPartitionMapping,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetDep,
    AssetExecutionContext,
    AssetRecordsFilter,
    AutomationCondition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from ..keys import parse_issue_key
from ..ledger.kinds import Kind
from ..outcomes import gates
from ..outcomes.costs import costs_by_day, daily_totals, hourly_costs, markdown_table, sparkline
from ..outcomes.costs import project_spend as spend_by_project
from ..outcomes.prompts import prompt_outcomes as prompt_outcomes_of
from ..outcomes.scoring import FORMULA_VERSION, SCORE_KINDS, score_events
from ..outcomes.validation import validate_costs, validate_scores
from ..resources import LedgerResource, SettingsResource
from .partitions import paid_issues

costs_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("PAID_COSTS_START_DATE", "2025-01-01"), end_offset=1
)
LEDGER_SEQ = "ledger_seq"  # llm_costs metadata: the last `llm.call` event (by sequence) the rollup had seen


def run_partition_keys(context: AssetCheckExecutionContext) -> list[str]:
    """The partitions the current run materialized (one, or a single-run backfill's range)."""
    tags = context.run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return [k for k in (start, end) if k]


# --- quality score ------------------------------------------------------------------------------------------


@asset(
    partitions_def=paid_issues,
    deps=[AssetDep("pull_request")],
    io_manager_key="tables",
    code_version=FORMULA_VERSION,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="paid",
    kinds={"pandas"},
)
def quality_score(context: AssetExecutionContext, settings: SettingsResource, ledger: LedgerResource) -> Output:
    """0..1 per issue from recorded events only (merge, first CI, votes, iterations, lint, tests).

    A backfill over any range re-scores from the ledger with the current formula: no GitHub, no model."""
    config = settings.load()
    events = ledger.ledger()
    rows: list[dict[str, Any]] = []
    scored: list[dict[str, Any]] = []
    now = datetime.now(UTC).isoformat()
    history = events.read_streams(list(context.partition_keys), SCORE_KINDS)
    for key in context.partition_keys:
        repo, number = parse_issue_key(key)
        result = score_events(history[key], config.scoring)
        row = {
            "partition_key": key,
            "project": repo,
            "issue": number,
            "score": result.score,
            "settled": result.settled,
            "iterations": result.iterations,
            "formula_version": result.formula_version,
            "scored_at": now,
            "dagster_run_id": context.run.run_id,
            **{f"c_{k}": v for k, v in result.components.items()},
        }
        rows.append(row)
        scored.append({"stream": key, "kind": Kind.QUALITY_SCORED, "data": {**row, "components": result.components}})
    events.append_many(scored)
    frame = pd.DataFrame(rows)
    if len(rows) == 1:
        row = rows[0]
        components = pd.DataFrame(
            [
                {"component": k.removeprefix("c_"), "value": v, "weight": getattr(config.scoring, k.removeprefix("c_"))}
                for k, v in row.items()
                if k.startswith("c_")
            ]
        )
        trend = [float(e.data["score"]) for e in events.read(stream=row["partition_key"], kinds=[Kind.QUALITY_SCORED])]
        metadata: dict[str, Any] = {
            "score": MetadataValue.float(row["score"]),
            "settled": row["settled"],
            "iterations": row["iterations"],
            "components": MetadataValue.md(markdown_table(components, "{:.2f}")),
            "quality_trend": MetadataValue.md(f"`{sparkline(trend)}` over {len(trend)} scorings"),
        }
    else:
        metadata = {"partitions": len(rows), "mean_score": MetadataValue.float(float(frame["score"].mean()))}
    metadata["formula_version"] = FORMULA_VERSION
    return Output(frame, metadata=metadata)


EVERY_30_MIN = "*/30 * * * *"


def ledger_rollup(
    *, with_runs: bool = True, cron: str = EVERY_30_MIN, kinds: frozenset[str] = frozenset({"pandas"}), **extra: Any
) -> Any:
    """The decorator of an unpartitioned rollup from the ledger: after every issue's score (and its agent runs, for
    lineage), a table through the `tables` IO manager, refreshed on a cron by the automation sensor."""
    deps = [AssetDep(quality_score, partition_mapping=AllPartitionMapping())]
    if with_runs:
        deps.append(AssetDep("agent_run", partition_mapping=AllPartitionMapping()))
    return asset(
        deps=deps,
        io_manager_key="tables",
        automation_condition=AutomationCondition.on_cron(cron),
        group_name="paid",
        kinds=set(kinds),
        **extra,
    )


def _scored_in_run(context: AssetCheckExecutionContext, ledger: LedgerResource) -> list[dict[str, Any]]:
    """The rows this run wrote to the quality_score table (as SQL tools see them)."""
    import sqlalchemy as sa

    with ledger.ledger().engine.connect() as conn:
        if not sa.inspect(conn).has_table("paid_quality_score"):
            return []
        result = conn.execute(
            sa.text("SELECT * FROM paid_quality_score WHERE dagster_run_id = :run"), {"run": context.run.run_id}
        )
        return [dict(r._mapping) for r in result]


@asset_check(asset=quality_score, blocking=True, description="A settled PR's score is at least gates.floor.")
def quality_floor(
    context: AssetCheckExecutionContext, settings: SettingsResource, ledger: LedgerResource
) -> AssetCheckResult:
    floor = settings.load().gates.floor
    scored = _scored_in_run(context, ledger)
    below = [f"{s['partition_key']}: {s['score']:.2f}" for s in scored if s["settled"] and s["score"] < floor]
    return AssetCheckResult(
        passed=not below,
        severity=AssetCheckSeverity.ERROR,
        metadata={"floor": floor, "below": ", ".join(below) or "none", "checked": len(scored)},
    )


@asset_check(
    asset=quality_score,
    blocking=True,
    description="The project's 7-day quality holds against its 30-day mean and failure rate.",
)
def project_quality_gate(
    context: AssetCheckExecutionContext, settings: SettingsResource, ledger: LedgerResource
) -> AssetCheckResult:
    config = settings.load()
    events = ledger.ledger()
    tripped = {}
    for project in sorted({s["project"] for s in _scored_in_run(context, ledger)}):
        verdict = gates.rolling_verdict(events, project, config.gates)
        if verdict.tripped:
            gates.trip(events, project, verdict.reason)
            tripped[project] = verdict.reason
    return AssetCheckResult(
        passed=not tripped,
        severity=AssetCheckSeverity.ERROR,
        metadata={"tripped": "; ".join(f"{p}: {r}" for p, r in tripped.items()) or "none"},
    )


@asset_check(asset=quality_score, description="Scores lie in 0..1 and name their project (great-expectations).")
def quality_score_valid(context: AssetCheckExecutionContext, ledger: LedgerResource) -> AssetCheckResult:
    frame = pd.DataFrame(_scored_in_run(context, ledger))
    result = validate_scores(frame)
    return AssetCheckResult(passed=result.success, metadata={"failed": ", ".join(result.failed) or "none"})


# --- costs -------------------------------------------------------------------------------------------------------


@asset(
    partitions_def=costs_partitions,
    deps=[AssetDep("agent_run", partition_mapping=AllPartitionMapping())],
    io_manager_key="tables",
    backfill_policy=BackfillPolicy.single_run(),
    automation_condition=AutomationCondition.on_cron("*/30 * * * *"),
    group_name="costs",
    kinds={"pandas"},
    code_version="1",
)
def llm_costs(context: AssetExecutionContext, ledger: LedgerResource) -> Output:
    """Per day, project and model: calls, tokens in / out / cached and cost, from `llm.call` events."""
    events = ledger.ledger()
    seen = events.last_seq(Kind.LLM_CALL)  # the rollup covers the calls up to here; later ones are late, not lost
    days = [date.fromisoformat(k) for k in context.partition_keys]
    frame = costs_by_day(events, min(days), max(days), through_seq=seen)
    frame = frame[frame["day"].isin([d.isoformat() for d in days])].reset_index(drop=True)
    frame["partition_key"] = frame["day"]
    metadata: dict[str, Any] = {
        "rows": len(frame),
        "cost_usd": MetadataValue.float(float(frame["cost_usd"].sum()) if len(frame) else 0.0),
        LEDGER_SEQ: seen,
    }
    if len(frame) and len(context.partition_keys) == 1:
        day = date.fromisoformat(context.partition_keys[0])
        hourly = hourly_costs(events, day)
        metadata["by_project_and_model"] = MetadataValue.md(
            markdown_table(frame.drop(columns=["partition_key"]))
            + f"\n\nCost by hour (UTC 00→23): `{sparkline(hourly)}` peak ${max(hourly):.4f}"
        )
    return Output(frame, metadata=metadata)


@asset_check(
    asset=llm_costs,
    blocking=True,
    description="No negative figure, no missing model or project, the day's total equals the ledger's.",
)
def llm_costs_valid(context: AssetCheckExecutionContext, ledger: LedgerResource) -> AssetCheckResult:
    import sqlalchemy as sa

    events = ledger.ledger()
    days = expand_days(run_partition_keys(context))
    with events.engine.connect() as conn:  # the rows just written, read back as SQL tools would
        frame = pd.DataFrame()
        if sa.inspect(conn).has_table("paid_llm_costs") and days:
            query = sa.text("SELECT * FROM paid_llm_costs WHERE partition_key >= :a AND partition_key <= :b")
            frame = pd.read_sql(query, conn, params={"a": days[0], "b": days[-1]})
    # Against the ledger as the rollup read it: calls that runs record meanwhile are the next rollup's, not a fault.
    seen = rolled_up_through(context, days[-1]) if days else None
    totals = daily_totals(events, date.fromisoformat(days[0]), date.fromisoformat(days[-1]), seen) if days else {}
    result = validate_costs(frame.drop(columns=["partition_key"], errors="ignore"), totals)
    return AssetCheckResult(
        passed=result.success,
        severity=AssetCheckSeverity.ERROR,
        metadata={"days": f"{days[0]}..{days[-1]}" if days else "none", "failed": "; ".join(result.failed) or "none"},
    )


def rolled_up_through(context: AssetCheckExecutionContext, day: str) -> int | None:
    """The ledger position the latest `llm_costs` of `day` was computed through (None before there is one)."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=llm_costs.key, asset_partitions=[day]), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    value = materialization.metadata.get(LEDGER_SEQ) if materialization else None
    return int(value.value) if value is not None else None  # type: ignore[arg-type]


def expand_days(keys: list[str]) -> list[str]:
    if not keys:
        return []
    start, end = date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


@asset(
    deps=[AssetDep(llm_costs, partition_mapping=AllPartitionMapping())],
    io_manager_key="tables",
    automation_condition=AutomationCondition.on_cron("*/30 * * * *"),
    group_name="costs",
    kinds={"pandas"},
)
def project_spend(context: AssetExecutionContext, ledger: LedgerResource) -> Output:
    """Per project: month to date, the last 7 days (with a trend chart) and the month's projected end."""
    frame = spend_by_project(ledger.ledger(), datetime.now(UTC).date())
    table = frame.assign(trend_7d=[f"`{sparkline(list(v))}`" for v in frame["daily_7d"]]).drop(columns=["daily_7d"])
    stored = frame.assign(daily_7d=[",".join(f"{x:.6f}" for x in v) for v in frame["daily_7d"]])
    return Output(
        stored,
        metadata={
            "spend": MetadataValue.md(markdown_table(table)),
            "month_to_date_usd": MetadataValue.float(float(frame["month_to_date_usd"].sum()) if len(frame) else 0.0),
            "projected_month_usd": MetadataValue.float(
                float(frame["projected_month_usd"].sum()) if len(frame) else 0.0
            ),
        },
    )


@ledger_rollup()
def prompt_outcomes(ledger: LedgerResource) -> Output:
    """Prompt version × model × engine → runs, mean quality score, completion rate, cost per run and per point."""
    frame = prompt_outcomes_of(ledger.ledger())
    shown = frame.assign(prompt_version=[f"`{p}`" for p in frame["prompt_version"]])
    return Output(frame, metadata={"outcomes": MetadataValue.md(markdown_table(shown)), "rows": len(frame)})
