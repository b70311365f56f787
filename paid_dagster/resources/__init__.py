"""Dagster resources: thin adapters that hand the domain packages their settings and connections."""

from __future__ import annotations

from dagster import ConfigurableResource

from ..config import PaidConfig, load_config
from ..github.client import GitHubClient
from ..ledger import Ledger
from ..llm import LLMGateway


class SettingsResource(ConfigurableResource):
    """`paid.yaml`; an empty path means $PAID_CONFIG, else ./paid.yaml."""

    config_path: str = ""

    def load(self) -> PaidConfig:
        return load_config(self.config_path or None)


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


class LLMResource(ConfigurableResource):
    """litellm with the model of `paid.yaml`; every call becomes an `llm.call` event."""

    settings: SettingsResource

    def gateway(self, ledger: Ledger) -> LLMGateway:
        return LLMGateway(self.settings.load().model, ledger)


__all__ = ["GitHubResource", "LLMResource", "LedgerResource", "SettingsResource"]
