"""The built-in engine: mini-swe-agent's loop, with Paid's model gateway and sandbox plugged in.

mini-swe-agent (on litellm, bash-only actions, step / cost / wall-time limits) does the loop; Paid
supplies the model (every call through `LLMGateway`, so it is priced and recorded) and the environment
(every command through a `Sandbox`, with none of the host's environment).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from minisweagent.agents.default import DefaultAgent
from minisweagent.exceptions import InterruptAgentFlow, Submitted
from minisweagent.models.litellm_textbased_model import LitellmTextbasedModel

from ..config import Limits
from ..llm import LLMError, LLMGateway
from ..llm.gateway import BudgetExceeded
from ..sandbox import Sandbox
from .guardrails import WIND_DOWN, Budget, Trip, check_before_call, nearly_spent, repeated_action
from .outcome import TRIPS, EngineResult, Interruption, RunOutcome
from .progress import Progress, TurnReport, intent_of, silent

OUTCOMES = {
    "Submitted": RunOutcome.COMPLETED,
    "LimitsExceeded": RunOutcome.LIMITS_EXCEEDED,
    "TimeExceeded": RunOutcome.TIMEOUT,
    "RepeatedFormatError": RunOutcome.FORMAT_ERRORS,
}


class Tripped(InterruptAgentFlow):
    """A guardrail stopped the agent; the exit message carries the outcome."""

    def __init__(self, trip: Trip) -> None:
        self.trip = trip
        super().__init__(
            {"role": "exit", "content": trip.reason, "extra": {"exit_status": trip.outcome, "submission": trip.reason}}
        )


class GuardedAgent(DefaultAgent):
    """mini-swe-agent's loop with Paid's guardrails checked before each model call and after each action."""

    def __init__(
        self,
        *args: Any,
        limits: Limits,
        commands: list[str],
        budget: Budget,
        progress: Progress = silent,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.budget = budget
        self.commands = commands
        self.trip: Trip | None = None
        self.wound_down = False
        self.progress = progress

    def query(self) -> dict:
        elapsed = time.time() - self.budget.started
        turns, cost = self.budget.turns + self.n_calls, self.budget.cost + self.cost
        trip = check_before_call(self.limits, turns, elapsed, cost)
        if trip is not None:
            self.trip = trip
            raise Tripped(trip)
        spent = nearly_spent(self.limits, turns, elapsed, cost)
        if spent and not self.wound_down:
            self.wound_down = True
            self.add_messages(self.model.format_message(role="user", content=WIND_DOWN.format(spent=spent)))
        return super().query()

    def execute_actions(self, message: dict) -> list[dict]:
        observations = super().execute_actions(message)
        self.report(message, observations)
        trip = repeated_action(self.commands, self.limits.loop_repeats)
        if trip is not None:
            self.trip = trip
            raise Tripped(trip)
        return observations

    def report(self, message: dict, observations: list[dict]) -> None:
        """The turn just done, for whoever watches (the Dagster run's log)."""
        observation = observations[-1] if observations else {}
        extra = observation.get("extra") or {}
        self.progress(
            TurnReport(
                turn=self.budget.turns + self.n_calls,
                intent=intent_of(str(message.get("content") or "")),
                command=self.commands[-1] if self.commands else "",
                exit_code=extra.get("returncode"),
                output=str(extra.get("raw_output") or observation.get("content") or ""),
                tokens=self.budget.tokens + getattr(self.model, "tokens", 0),
                cost_usd=self.budget.cost + self.cost,
            ).line()
        )


class Engine(Protocol):
    name: str

    def run(self, task: str, sandbox: Sandbox, limits: Limits, budget: Budget | None = None) -> EngineResult: ...


class GatewayModel(LitellmTextbasedModel):
    """mini-swe-agent's text-based litellm model whose calls go through Paid's gateway."""

    # An interruption (the run terminated) must end the call at once, not be retried with backoff.
    abort_exceptions = [*LitellmTextbasedModel.abort_exceptions, LLMError, Interruption]  # type: ignore[list-item]

    def __init__(self, gateway: LLMGateway, stream: str, run_id: str) -> None:
        super().__init__(model_name=gateway.settings.name, cost_tracking="ignore_errors")
        self.gateway = gateway
        self.stream = stream
        self.run_id = run_id
        self.tokens = 0  # in and out, for the progress lines

    def _query(self, messages: list[dict[str, str]], **kwargs: Any) -> Any:
        reply = self.gateway.complete(messages, self.stream, purpose="agent", run_id=self.run_id)
        self.tokens += reply.tokens_in + reply.tokens_out
        return reply.raw


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

    def __init__(
        self,
        gateway: LLMGateway,
        stream: str,
        run_id: str,
        system_template: str,
        progress: Progress = silent,
    ) -> None:
        self.progress = progress
        self.gateway = gateway
        self.stream = stream
        self.run_id = run_id
        self.system_template = system_template  # the registry's version, chosen by the run

    def run(self, task: str, sandbox: Sandbox, limits: Limits, budget: Budget | None = None) -> EngineResult:
        budget = budget or Budget(started=time.time())
        environment = SandboxEnvironment(sandbox, limits.command_timeout_seconds)
        model = GatewayModel(self.gateway, self.stream, self.run_id)
        agent = GuardedAgent(
            model,
            environment,
            limits=limits,
            commands=environment.commands,
            budget=budget,
            progress=self.progress,
            system_template=self.system_template,
            instance_template="{{task}}",
            step_limit=0,  # the guardrails above enforce the limits, with outcomes of their own
            cost_limit=0,
        )
        try:
            info = agent.run(task)
            status = str(info.get("exit_status", ""))
            summary = str(info.get("submission", "")) or status
        except BudgetExceeded as exc:
            status, summary = RunOutcome.BUDGET_EXCEEDED, str(exc)
        except LLMError as exc:
            status, summary = RunOutcome.MODEL_ERROR, str(exc)
        budget.turns += agent.n_calls
        budget.cost += agent.cost
        budget.tokens += model.tokens
        if agent.trip is not None:
            status = agent.trip.outcome
        return EngineResult(
            outcome=OUTCOMES.get(
                status, RunOutcome(status) if status in (RunOutcome.MODEL_ERROR, *TRIPS) else RunOutcome.FAILED
            ),
            turns=agent.n_calls,
            cost_usd=agent.cost,
            summary=summary.strip()[:2000],
            commands=environment.commands,
            tripped=agent.trip.reason if agent.trip else None,
            wound_down=agent.wound_down,
        )
