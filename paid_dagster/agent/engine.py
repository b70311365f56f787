"""The built-in engine: mini-swe-agent's loop, with Paid's model gateway and sandbox plugged in.

mini-swe-agent (on litellm, bash-only actions, step / cost / wall-time limits) does the loop; Paid
supplies the model (every call through `LLMGateway`, so it is priced and recorded) and the environment
(every command through a `Sandbox`, with none of the host's environment).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
os.environ.setdefault("MSWEA_COST_TRACKING", "ignore_errors")

from minisweagent.agents.default import DefaultAgent
from minisweagent.exceptions import Submitted
from minisweagent.models.litellm_textbased_model import LitellmTextbasedModel

from ..llm import LLMError, LLMGateway
from .prompts import load_template
from .sandbox import Sandbox

OUTCOMES = {
    "Submitted": "completed",
    "LimitsExceeded": "limits_exceeded",
    "TimeExceeded": "timeout",
    "RepeatedFormatError": "format_errors",
}


@dataclass(frozen=True)
class EngineLimits:
    max_turns: int
    wall_time_seconds: int
    cost_ceiling_usd: float
    command_timeout_seconds: int


@dataclass
class EngineResult:
    outcome: str
    turns: int
    cost_usd: float
    summary: str
    commands: list[str] = field(default_factory=list)


class Engine(Protocol):
    name: str

    def run(self, task: str, sandbox: Sandbox, limits: EngineLimits) -> EngineResult: ...


class GatewayModel(LitellmTextbasedModel):
    """mini-swe-agent's text-based litellm model whose calls go through Paid's gateway."""

    abort_exceptions = [*LitellmTextbasedModel.abort_exceptions, LLMError]

    def __init__(self, gateway: LLMGateway, stream: str, run_id: str) -> None:
        super().__init__(model_name=gateway.settings.name, cost_tracking="ignore_errors")
        self.gateway = gateway
        self.stream = stream
        self.run_id = run_id

    def _query(self, messages: list[dict[str, str]], **kwargs: Any) -> Any:
        return self.gateway.complete(messages, self.stream, purpose="agent", run_id=self.run_id).raw


class SandboxEnvironment:
    """mini-swe-agent's Environment protocol over a Paid sandbox."""

    def __init__(self, sandbox: Sandbox, timeout: int) -> None:
        self.sandbox = sandbox
        self.timeout = timeout
        self.config = {"sandbox": sandbox.name, "timeout": timeout}
        self.commands: list[str] = []

    def execute(self, action: dict[str, Any], cwd: str = "", *, timeout: int | None = None) -> dict[str, Any]:
        command = str(action.get("command", ""))
        self.commands.append(command)
        result = self.sandbox.run(command, timeout or self.timeout)
        output = {"output": result.output, "returncode": result.returncode, "exception_info": ""}
        if result.timed_out:
            output["exception_info"] = f"the command timed out after {timeout or self.timeout} s"
        lines = result.output.lstrip().splitlines(keepends=True)
        if lines and lines[0].strip() == "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" and result.returncode == 0:
            submission = "".join(lines[1:])
            raise Submitted(
                {
                    "role": "exit",
                    "content": submission,
                    "extra": {"exit_status": "Submitted", "submission": submission},
                }
            )
        return output

    def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
        # Deliberately not the host's environment (mini-swe-agent's LocalEnvironment merges os.environ).
        return {"sandbox": self.sandbox.name, **kwargs}

    def serialize(self) -> dict[str, Any]:
        return {"info": {"config": {"environment": self.config, "environment_type": "paid.sandbox"}}}


class MiniSweAgentEngine:
    name = "mini-swe-agent"

    def __init__(self, gateway: LLMGateway, stream: str, run_id: str) -> None:
        self.gateway = gateway
        self.stream = stream
        self.run_id = run_id

    def run(self, task: str, sandbox: Sandbox, limits: EngineLimits) -> EngineResult:
        system_template, _ = load_template("system")
        environment = SandboxEnvironment(sandbox, limits.command_timeout_seconds)
        agent = DefaultAgent(
            GatewayModel(self.gateway, self.stream, self.run_id),
            environment,
            system_template=system_template,
            instance_template="{{task}}",
            step_limit=limits.max_turns,
            cost_limit=limits.cost_ceiling_usd,
            wall_time_limit_seconds=limits.wall_time_seconds,
        )
        try:
            info = agent.run(task)
            status = str(info.get("exit_status", ""))
            summary = str(info.get("submission", "")) or status
        except LLMError as exc:
            status, summary = "model_error", str(exc)
        return EngineResult(
            outcome=OUTCOMES.get(status, "model_error" if status == "model_error" else "failed"),
            turns=agent.n_calls,
            cost_usd=agent.cost,
            summary=summary.strip()[:2000],
            commands=environment.commands,
        )
