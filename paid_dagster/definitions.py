"""The one Definitions object: assets, sensors, jobs and resources."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")

from dagster import Definitions

from .assets import agent_run, github_issue, pull_request, triage
from .jobs import paid_build_job
from .resources import GitHubResource, LedgerResource, LLMResource, SettingsResource
from .sensors import paid_label_sensor

settings = SettingsResource()

defs = Definitions(
    assets=[github_issue, triage, agent_run, pull_request],
    jobs=[paid_build_job],
    sensors=[paid_label_sensor],
    resources={
        "settings": settings,
        "github": GitHubResource(settings=settings),
        "llm": LLMResource(settings=settings),
        "ledger": LedgerResource(),
    },
)
