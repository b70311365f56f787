"""How many issue runs go at once: the `concurrency:` section of paid.yaml rendered as the Dagster instance's
run coordinator (a global cap, a per-repository cap counted on the `paid/repo` tag, and one build run at a time
per issue on `paid/build_of`). Pure: text in, text
out; `paid ui` and the Docker deployment both call it, so the two never disagree."""

from __future__ import annotations

import re
from typing import Any

import yaml

from .config import ConcurrencySettings
from .run_tags import BUILD_OF, REPO

COORDINATOR_MODULE = "paid_dagster.run_queue"
COORDINATOR_CLASS = "PaidRunCoordinator"
DEQUEUE_INTERVAL_SECONDS = 1  # Dagster's default is 5 s: a run would wait that long in the queue for nothing
TOP_LEVEL_BLOCK = re.compile(r"^run_coordinator:[^\n]*\n(?:(?:[ \t]+[^\n]*|[ \t]*)\n)*", re.M)


def run_coordinator(settings: ConcurrencySettings) -> dict[str, Any]:
    """The instance's `run_coordinator:` value for these settings."""
    return {
        "module": COORDINATOR_MODULE,
        "class": COORDINATOR_CLASS,
        "config": {
            "max_concurrent_runs": settings.max_runs,
            "tag_concurrency_limits": [
                {"key": REPO, "value": {"applyLimitPerUniqueValue": True}, "limit": settings.per_repository},
                {"key": BUILD_OF, "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            ],
            "dequeue_interval_seconds": DEQUEUE_INTERVAL_SECONDS,
        },
    }


def with_run_coordinator(instance_yaml: str, settings: ConcurrencySettings) -> str:
    """A dagster.yaml's text with its `run_coordinator:` block replaced (or added) by these settings' one; the
    rest of the file, comments included, is left as it was."""
    block = yaml.safe_dump({"run_coordinator": run_coordinator(settings)}, sort_keys=False)
    if TOP_LEVEL_BLOCK.search(instance_yaml):
        return TOP_LEVEL_BLOCK.sub(lambda _match: block, instance_yaml, count=1)
    return instance_yaml.rstrip("\n") + "\n" + block
