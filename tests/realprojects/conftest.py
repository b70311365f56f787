from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance, Definitions, instance_for_test
from paid_standins.inprocess import sensor_tick
from paid_standins.stack import OfflineStack, start_stack

from paid_dagster.keys import issue_key
from paid_dagster.ledger import Ledger

from .projects import Project, text_files, unpack


@dataclass
class RealRun:
    """The offline stack with one real project on the forge, configured by its name alone."""

    stack: OfflineStack
    instance: DagsterInstance
    defs: Definitions
    ledger: Ledger
    repo: str
    title: str
    number: int = 0

    def label_and_tick(self, title: str = "", cursor: str | None = None) -> Any:
        forge, seed = self.stack.forge, self.stack.seed
        self.number = forge.as_user(seed.writer).create_issue(self.repo, title or self.title, title or self.title)
        forge.as_user(seed.writer).label(self.repo, self.number, "paid-build")
        return sensor_tick(self.instance, self.defs, cursor)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.ledger.read(stream=issue_key(self.repo, self.number), kinds=[kind])]

    def pull_bodies(self) -> list[str]:
        rows = self.stack.forge.store.all(
            "SELECT i.body FROM pulls p JOIN issues i ON i.id = p.issue_id JOIN repos r ON r.id = i.repo_id"
            " WHERE r.name = ?",
            self.repo.split("/")[1],
        )
        return [r["body"] for r in rows]

    def fed_back(self) -> list[str]:
        return [c.last_user_message for c in self.stack.model.calls if "QUALITY FEEDBACK" in c.last_user_message]


def open_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: Project, title: str, sandbox: str, script: list
) -> Iterator[RealRun]:
    stack = start_stack(tmp_path / "stack", sandbox=sandbox)
    forge, seed = stack.forge, stack.seed
    repo = f"octo-org/{project.name}"
    forge.create_repo(repo, text_files(unpack(project, tmp_path / "release")), description=project.slug)
    for login in (seed.writer, seed.bot):
        forge.grant(repo, login, "write")
    config = yaml.safe_load(stack.config_path.read_text())
    # The repository's name (and the sandbox's kind) only: setup and checks are what Paid finds in its files.
    config["repositories"] = [{"name": repo, "sandbox": sandbox}]
    stack.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    stack.model.script.conversations[2:2] = script  # after the review and triage conversations
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    monkeypatch.setenv("PAID_CONFIG", str(stack.config_path))
    monkeypatch.setenv("PAID_LEDGER_URL", ledger_url)
    from paid_dagster.ledger import store

    store._ENGINES.clear()
    from paid_dagster.definitions import defs

    (tmp_path / "dagster_home").mkdir()
    try:
        with instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
            yield RealRun(stack, instance, defs, Ledger(ledger_url), repo, title)
    finally:
        stack.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "realprojects" in str(item.fspath):
            item.add_marker(pytest.mark.realprojects)
