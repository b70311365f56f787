"""Dagster resources: thin adapters that hand the domain packages their settings and connections."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource

from ..config import ModelSettings, PaidConfig, config_from_text, read_config, register_secrets
from ..github.client import GitHubClient
from ..ledger import Ledger
from ..llm import LLMGateway
from ..outcomes.budgets import budget_status

# By the file's absolute path: its text when last parsed and what that gave. Kept beside the class, not on an
# instance: Dagster makes a copy of SettingsResource per run and per resource holding it (GitHubResource's, the
# LLM's), and with the in-process executor one copy serves every step, so an instance's cache would parse once
# per holder and miss an edit between two steps. Keyed by the text, one parse serves them all until an edit.
_PARSED: dict[Path, tuple[str, PaidConfig]] = {}


class SettingsResource(ConfigurableResource):
    """`paid.yaml`; an empty path means $PAID_CONFIG, else ./paid.yaml.

    `load()` reads the file at each call but parses it only when its text changed since it was last parsed: a
    step that asks many times parses it at most once, and the next step or run sees an edit.
    """

    config_path: str = ""

    def load(self) -> PaidConfig:
        path, text = read_config(self.config_path or None)
        key = Path(os.path.abspath(path))
        parsed = _PARSED.get(key)
        if parsed is not None and parsed[0] == text:
            register_secrets(parsed[1])  # as a parse would: the variables' values may have changed since
            return parsed[1]
        config = config_from_text(text, path)
        _PARSED[key] = (text, config)
        return config


class LedgerResource(ConfigurableResource):
    """The event ledger; an empty URL means the database of Dagster's own storage."""

    url: str = ""

    def ledger(self) -> Ledger:
        return Ledger(self.url or None)


class GitHubResource(ConfigurableResource):
    """PyGithub against `github.base_url` with the token read from the variable `github.token_env`.

    The token is read at use time from the environment, never stored in run config or metadata.
    """

    settings: SettingsResource

    def client(self) -> GitHubClient:
        config = self.settings.load()
        return GitHubClient(config.github, config.github_token())

    def token(self) -> str:
        return self.settings.load().github_token()

    def review_client(self) -> GitHubClient:
        """The identity that posts reviews: github.review_token_env when set, else Paid's own."""
        config = self.settings.load()
        env = config.github.review_token_env
        if env and os.environ.get(env):
            return GitHubClient(config.github, os.environ[env])
        return self.client()

    def identities(self) -> set[str]:
        """The logins Paid acts as on GitHub: its token's, and its review token's when set."""
        config = self.settings.load()
        logins = {self.client().whoami()}
        env = config.github.review_token_env
        if env and os.environ.get(env):
            logins.add(GitHubClient(config.github, os.environ[env]).whoami())
        return logins


class LLMResource(ConfigurableResource):
    """litellm with the model of `paid.yaml`; every call becomes an `llm.call` event."""

    settings: SettingsResource

    def gateway(self, ledger: Ledger, project: str | None = None, model: ModelSettings | None = None) -> LLMGateway:
        """With a project, each call first checks the project's daily and monthly budgets; only the models allowed
        (for the project when given) are ever called. `model` replaces paid.yaml's (an experiment's model variant)."""
        config = self.settings.load()
        guard = None
        if project is not None:
            repo = config.repository(project)

            def guard() -> str | None:
                status = budget_status(ledger, project, repo.budget_daily_usd, repo.budget_monthly_usd)
                return status.reason if status.level == "exceeded" else None

        return LLMGateway(model or config.model, ledger, guard, frozenset(config.allowed_models(project)))


__all__ = ["GitHubResource", "LLMResource", "LedgerResource", "SettingsResource"]
