"""One agent run, outside Dagster, on the forge with a scripted model: for the agent runtime's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paid_standins.forge import Forge, SampleSeed, seed_sample
from paid_standins.model import Script, ScriptedModelServer
from paid_standins.stack import stack_config

from paid_dagster.agent.run import AgentRunRequest, AgentRunResult, new_run_id, run_agent
from paid_dagster.config import Limits, PaidConfig, parse_config
from paid_dagster.github.client import GitHubClient
from paid_dagster.github.publish import Published, publish_run
from paid_dagster.ledger import Ledger
from paid_dagster.llm import LLMGateway


@dataclass
class Harness:
    forge: Forge
    seed: SampleSeed
    model: ScriptedModelServer
    config: PaidConfig
    ledger: Ledger
    client: GitHubClient

    def run(
        self,
        number: int = 1,
        prompt_choice: dict[str, str] | None = None,
        follow_up: str = "",
        attempt: dict[str, Any] | None = None,
        **limits: Any,
    ) -> AgentRunResult:
        if limits:
            config = self.config.model_copy(update={"limits": self.config.limits.model_copy(update=limits)})
        else:
            config = self.config
        repo = self.client.repo(self.seed.repo)
        return run_agent(
            AgentRunRequest(
                config=config,
                settings=config.repository(self.seed.repo),
                issue=self.client.snapshot(self.seed.repo, number),
                clone_url=repo.clone_url,
                default_branch=repo.default_branch,
                token=self.forge.token(self.seed.bot),
                gateway=LLMGateway(config.model, self.ledger),
                ledger=self.ledger,
                run_id=new_run_id(),
                follow_up=follow_up,
                prompt_choice=prompt_choice or {},
                attempt=attempt or {},
            )
        )

    def publish(self, run: AgentRunResult) -> Published | None:
        return publish_run(self.client, self.ledger, run, "Fix", self.forge.token(self.seed.bot)).pull

    def issue_comments(self, number: int = 1) -> list[str]:
        return [c.body for c in self.client.issue(self.seed.repo, number).get_comments()]


@contextmanager
def harness(
    tmp: Path, script: dict[str, Any], sandbox: str = "bubblewrap", checks: bool = True, **limits: Any
) -> Iterator[Harness]:
    with Forge(tmp / "forge") as forge, ScriptedModelServer(Script.load(script)) as model:
        seed = seed_sample(forge)
        data = stack_config(forge.url, model.api_base, seed.repo, tmp / "work", sandbox)
        data["github"]["token_env"] = "PAID_HARNESS_TOKEN"
        data["limits"].update(limits)
        data["checks"] = {"enabled": checks}
        config = parse_config(data)
        import os

        os.environ["PAID_HARNESS_TOKEN"] = forge.token(seed.bot)
        ledger = Ledger(f"sqlite:///{tmp / 'ledger.sqlite3'}")
        client = GitHubClient(config.github, forge.token(seed.bot))
        yield Harness(forge, seed, model, config, ledger, client)


def bash(command: str, thought: str = "Next step.") -> dict[str, str]:
    return {"content": f"THOUGHT: {thought}\n\n```mswea_bash_command\n{command}\n```"}


SUBMIT = bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "Done.")
__all__ = ["SUBMIT", "Harness", "Limits", "bash", "harness"]
