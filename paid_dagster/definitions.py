"""The one Definitions object: assets, sensors, jobs and resources."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")

from dagster import Definitions  # noqa: E402

from .assets import agent_run, github_issue, pull_request  # noqa: E402
from .jobs import paid_build_job  # noqa: E402
from .resources import GitHubResource, LedgerResource, LLMResource, SettingsResource  # noqa: E402
from .sensors import paid_label_sensor  # noqa: E402

settings = SettingsResource()

defs = Definitions(
    assets=[github_issue, agent_run, pull_request],
    jobs=[paid_build_job],
    sensors=[paid_label_sensor],
    resources={
        "settings": settings,
        "github": GitHubResource(settings=settings),
        "llm": LLMResource(settings=settings),
        "ledger": LedgerResource(),
    },
)
