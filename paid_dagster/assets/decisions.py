"""The decisions Paid took and what followed them, and how well its automated checks predict people's verdicts:
two rollups from the ledger, on the same cron as the others."""

from dagster import MetadataValue, Output

from ..learning.decision_outcomes import decision_outcomes
from ..learning.signals import quality_signals as quality_signals_of
from ..outcomes.costs import markdown_table
from ..resources import LedgerResource, SettingsResource
from .outcomes import ledger_rollup


@ledger_rollup(with_runs=False)
def decisions(settings: SettingsResource, ledger: LedgerResource) -> Output:
    """Each decision kind × choice: how often it was made, and the scores of the issues where it preceded the
    latest score (mean, share good at `outcomes.good_at` or more, share bad under `gates.floor`)."""
    config = settings.load()
    tables = decision_outcomes(ledger.ledger(), config.outcomes.good_at, config.gates.floor)
    return Output(
        tables.by_choice,
        metadata={
            "by_kind": MetadataValue.md(markdown_table(tables.by_kind)),
            "by_outcome": MetadataValue.md(markdown_table(tables.by_choice)),
            "decisions": int(tables.by_choice["decisions"].sum()) if len(tables.by_choice) else 0,
            "good_at": config.outcomes.good_at,
            "bad_below": config.gates.floor,
        },
    )


@ledger_rollup(with_runs=False)
def quality_signals(settings: SettingsResource, ledger: LedgerResource) -> Output:
    """How well CI first try, lint, iterations and review findings predict merges and votes: n, correlation with
    p-value and 95 % interval, AUC; "not enough data" under `outcomes.min_sample` issues."""
    config = settings.load()
    frame = quality_signals_of(ledger.ledger(), config.outcomes.min_sample)
    return Output(
        frame,
        metadata={
            "signals": MetadataValue.md(markdown_table(frame, "{:.3g}")),
            "min_sample": config.outcomes.min_sample,
            "largest_n": int(frame["n"].max()) if len(frame) else 0,
        },
    )
