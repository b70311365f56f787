"""SettingsResource parses paid.yaml once, however often a step asks, and a step or run after an edit sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import asset, materialize

from paid_dagster import config as config_module
from paid_dagster.ledger import Ledger
from paid_dagster.resources import GitHubResource, LLMResource, SettingsResource


def test_paid_yaml_is_parsed_once_per_step_and_an_edit_is_seen_by_the_next_step_and_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "paid.yaml"
    path.write_text("github: {token_env: PAID_TEST_GITHUB}\nmodel: {name: one}\nrepositories: [a/b]\n")
    monkeypatch.setenv("PAID_TEST_GITHUB", "a-token-for-the-test")
    parses: list[str] = []
    parse = config_module.parse_config

    def counted(data: Any, source: str = "<memory>") -> config_module.PaidConfig:
        parses.append(source)
        return parse(data, source)

    monkeypatch.setattr(config_module, "parse_config", counted)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    seen: list[tuple[str, str]] = []

    @asset
    def asks_often(settings: SettingsResource, github: GitHubResource, llm: LLMResource) -> None:
        for _ in range(3):
            seen.append(("asks_often", settings.load().model.name))
        github.token(), github.client(), github.review_client()
        seen.append(("asks_often", llm.gateway(ledger, "a/b").settings.name))

    @asset(deps=[asks_often])
    def asks_again(settings: SettingsResource, github: GitHubResource) -> None:
        seen.append(("asks_again", settings.load().model.name))
        github.token()

    settings = SettingsResource(config_path=str(path))
    resources = {
        "settings": settings,
        "github": GitHubResource(settings=settings),
        "llm": LLMResource(settings=settings),
    }

    assert materialize([asks_often, asks_again], resources=resources).success
    assert parses == [str(path)]  # two steps, three holders of the settings, ten loads: one parse
    assert {name for _, name in seen} == {"one"}

    path.write_text(path.read_text().replace("name: one", "name: two"))
    seen.clear()
    assert materialize([asks_often, asks_again], resources=resources).success
    assert len(parses) == 2 and {name for _, name in seen} == {"two"}

    @asset
    def edits(settings: SettingsResource) -> None:
        seen.append(("edits", settings.load().model.name))
        path.write_text(path.read_text().replace("name: two", "name: three"))

    @asset(deps=[edits])
    def after_the_edit(settings: SettingsResource) -> None:
        seen.append(("after_the_edit", settings.load().model.name))

    seen.clear()
    assert materialize([edits, after_the_edit], resources=resources).success
    assert seen == [("edits", "two"), ("after_the_edit", "three")]  # the next step of the same run sees it
    assert len(parses) == 3
