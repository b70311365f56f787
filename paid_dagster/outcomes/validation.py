"""Data validity of the tabular projections, with great-expectations suites."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Validation:
    success: bool
    failed: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _validate(name: str, frame: pd.DataFrame, expectations: list[Any]) -> Validation:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("paid")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name=f"{name}_suite")
    for expectation in expectations:
        suite.add_expectation(expectation)
    result = batch.validate(suite)
    failed = []
    for r in result.results:
        config = r.expectation_config
        if not r.success and config is not None:
            failed.append(f"{config.type}({config.kwargs.get('column', '')})")
    return Validation(bool(result.success), failed, {"evaluated": len(result.results)})


def validate_costs(frame: pd.DataFrame, ledger_totals: dict[str, float]) -> Validation:
    """No negative figure, no missing project or model, and each day's total equals the ledger's sum."""
    import great_expectations.expectations as gxe

    table_totals = frame.groupby("day")["cost_usd"].sum().to_dict() if not frame.empty else {}
    days = pd.DataFrame(
        [
            {"day": d, "table_usd": round(float(table_totals.get(d, 0.0)), 6), "ledger_usd": round(t, 6)}
            for d, t in sorted(ledger_totals.items())
        ]
    )
    failed: list[str] = []
    if not frame.empty:
        expectations: list[Any] = [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("project", "model")]
        expectations += [
            gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0)
            for c in ("calls", "tokens_in", "tokens_out", "tokens_cached", "cost_usd")
        ]
        failed += _validate("llm_costs", frame, expectations).failed
    if not days.empty:
        failed += _validate(
            "llm_costs_days",
            days,
            [
                gxe.ExpectColumnPairValuesToBeEqual(column_A="table_usd", column_B="ledger_usd"),
            ],
        ).failed
    return Validation(not failed, failed)


def validate_scores(frame: pd.DataFrame) -> Validation:
    import great_expectations.expectations as gxe

    if frame.empty:
        return Validation(True)
    return _validate(
        "quality_score",
        frame,
        [
            gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="project"),
        ],
    )
