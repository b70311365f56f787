from dagster import AssetSelection, define_asset_job

from .run_tags import BUILD_JOB

# The one place Dagster's run retries are set: costly agent runs are never retried by Dagster (a timed-out run
# would be re-run, and side effects with it); Paid's own policy decides. Sensors' run requests inherit job tags.
NO_RETRIES = {"dagster/max_retries": "0"}

paid_build_job = define_asset_job(
    BUILD_JOB,
    selection=AssetSelection.assets("github_issue", "triage", "agent_run", "pull_request", "review"),
    tags=NO_RETRIES,
    description=(
        "Five steps on a labeled issue: snapshot it (github_issue), decide whether it is clear enough (triage),"
        " let the agent work on it (agent_run), open or update its draft PR (pull_request), review the PR and"
        " remediate or escalate (review)."
    ),
)

paid_score_job = define_asset_job(
    "paid_score",
    selection=AssetSelection.assets("quality_score"),
    description="Re-score issues from recorded events (the PR sensor requests it; backfills re-evaluate history).",
)

paid_costs_job = define_asset_job(
    "paid_costs",
    selection=AssetSelection.assets("llm_costs"),
    description="Roll up a day's LLM costs from the ledger (backfill a range for history).",
)
