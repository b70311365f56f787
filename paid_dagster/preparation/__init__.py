"""The prepared environment: each repository's dependencies installed in the sandbox before the agent works,
with the package registries as the only network and no secret, cached by what determines it (no Dagster)."""

from .cache import EnvironmentCache, environment_key
from .plan import ENV_DIRS, SetupPlan, plan_for
from .prepare import Preparation, prepare_environment

__all__ = [
    "ENV_DIRS",
    "EnvironmentCache",
    "Preparation",
    "SetupPlan",
    "environment_key",
    "plan_for",
    "prepare_environment",
]
