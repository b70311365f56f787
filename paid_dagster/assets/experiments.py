"""The `experiments` asset: each experiment's figures per variant and its tests, folded from the ledger."""

from dagster import (
    AssetExecutionContext,
    MetadataValue,
    Output,
)

from ..learning.experiments import PromptPromoter, as_settled, describe, evaluate_all, reports_frame, settle
from ..learning.registry import PromptRegistry
from ..ledger import Ledger
from ..resources import LedgerResource, SettingsResource
from .outcomes import ledger_rollup


def prompt_registry(ledger: Ledger) -> PromptPromoter:
    """The prompt registry a winning prompt version is promoted in."""
    return PromptRegistry(ledger)


# Often, because the sequential test may be looked at after every outcome; the fold reads the ledger only.
@ledger_rollup(cron="*/10 * * * *", kinds=frozenset({"pandas", "scipy"}))
def experiments(context: AssetExecutionContext, settings: SettingsResource, ledger: LedgerResource) -> Output:
    """Per experiment and variant: issues, n, mean quality score with its 95 % interval, success (merged) rate,
    cost per run and per success, Welch at the horizon and the always-valid sequential p-value. A winner found by
    the deciding test concludes the experiment (once) and, with auto_promote, becomes the prompt's current
    version (once). Re-derived from recorded events: no GitHub, no model."""
    config, events = settings.load(), ledger.ledger()
    reports, last_seq = evaluate_all(config, events)
    concluded = settle(events, reports, last_seq, lambda: prompt_registry(events))
    reports = as_settled(reports, concluded)
    for name in concluded:
        context.log.info(f"experiment {name} concluded")
    metadata = {f"experiment {r.experiment.name}": MetadataValue.md(describe(r)) for r in reports}
    return Output(
        reports_frame(reports),
        metadata={
            **metadata,
            "experiments": len(reports),
            "concluded_now": ", ".join(concluded),
            "ledger_seq": last_seq,
        },
    )
