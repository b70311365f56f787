"""The prompt registry as an asset upstream of the stages that send prompts (triage, agent_run, review), so that
the lineage reads prompt_registry → agent_run → pull_request → quality_score; its page lists every version
with its outcomes."""

import pandas as pd
from dagster import AssetKey, AutomationCondition, MetadataValue, Output, asset

from ..learning.registry import registry_for
from ..outcomes.costs import markdown_table
from ..outcomes.prompts import GLOBAL_SHOWN, version_outcomes
from ..resources import LedgerResource, SettingsResource

PROMPT_REGISTRY = AssetKey("prompt_registry")


def scored(mean_score: float | None) -> str:
    return "no score yet" if mean_score is None or pd.isna(mean_score) else f"mean score {mean_score:.3f}"


@asset(
    key=PROMPT_REGISTRY,
    io_manager_key="tables",
    # Materialized as soon as it is missing too: a run launched from the UI would otherwise be asked to confirm
    # materializing assets whose upstream (this) "has not been materialized yet".
    automation_condition=AutomationCondition.on_cron("*/30 * * * *") | AutomationCondition.on_missing(),
    group_name="paid",
    kinds={"pandas"},
)
def prompt_registry(settings: SettingsResource, ledger: LedgerResource) -> Output:
    """Every prompt version (global and per project): status, parent, author, and the uses, mean quality score
    and mean run cost of the runs that sent it. Reads the registry; seeding it from the template files (the
    built-in ones and the repositories' `prompts_dir`) is the only write, and it is idempotent."""
    events = ledger.ledger()
    registry = None
    for repo in settings.load().repositories:
        registry = registry_for(events, repo.name, repo.prompts_dir)
    versions = (registry or registry_for(events, "", None)).versions()
    frame = version_outcomes(events, versions)
    shown = frame.astype(object).where(frame.notna(), "-")
    shown = shown.assign(
        version=[f"`{v}`" for v in frame["version"]], parent=[f"`{p}`" if p else "-" for p in frame["parent"]]
    )
    current = {
        f"current {r.name}"
        + ("" if r.project == GLOBAL_SHOWN else f" for {r.project}"): f"{r.version}: {r.uses} uses, "
        + scored(r.mean_score)
        for r in frame[frame["status"] == "current"].itertuples()
    }
    return Output(frame, metadata={"versions": MetadataValue.md(markdown_table(shown)), "rows": len(frame), **current})
