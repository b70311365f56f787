"""The one Definitions object: assets, sensors, jobs and resources."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    in_process_executor,
)

from .assets import agent_run, github_issue, pull_request, triage
from .assets.decisions import decisions, quality_signals
from .assets.experiments import experiments
from .assets.outcomes import (
    llm_costs,
    llm_costs_valid,
    project_quality_gate,
    project_spend,
    prompt_outcomes,
    quality_floor,
    quality_score,
    quality_score_valid,
)
from .assets.prompts import prompt_registry
from .assets.review import review
from .assets.scorecard import model_scorecard
from .jobs import paid_build_job, paid_costs_job, paid_score_job
from .resources import GitHubResource, LedgerResource, LLMResource, SettingsResource
from .resources.tables import TableIOManager
from .secrets import mask_log_records
from .sensors import paid_label_sensor, paid_late_costs_sensor, paid_pr_sensor, paid_retry_sensor

mask_log_records()

settings = SettingsResource()

# Named and on by default: without a running automation-condition sensor, the rollups' cron conditions never
# fire on a fresh deployment (Dagster's implicit default sensor starts stopped).
paid_automation_sensor = AutomationConditionSensorDefinition(
    "paid_automation_sensor",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    description="Evaluates the rollups' automation conditions (costs, spend, prompts, models, decisions,"
    " experiments) every 30 s.",
)

defs = Definitions(
    assets=[
        github_issue,
        triage,
        agent_run,
        pull_request,
        review,
        quality_score,
        prompt_outcomes,
        model_scorecard,
        prompt_registry,
        experiments,
        llm_costs,
        project_spend,
        decisions,
        quality_signals,
    ],
    asset_checks=[quality_floor, project_quality_gate, quality_score_valid, llm_costs_valid],
    jobs=[paid_build_job, paid_score_job, paid_costs_job],
    sensors=[paid_label_sensor, paid_pr_sensor, paid_retry_sensor, paid_late_costs_sensor, paid_automation_sensor],
    # Every job's steps in its run's own process: Paid's jobs are a few sequential steps, and Dagster's default
    # (a process per step) made each scoring or rollup run pay the imports twice on machines shared with agents.
    executor=in_process_executor,
    resources={
        "settings": settings,
        "github": GitHubResource(settings=settings),
        "llm": LLMResource(settings=settings),
        "ledger": LedgerResource(),
        "tables": TableIOManager(),
    },
)
