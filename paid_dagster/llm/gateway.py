"""The one door to models: litellm, with fallbacks, pricing for local models and an event per call."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import ModelSettings
from ..learning.decisions import Decision, DecisionKind, decision_key, record_decision
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..secrets import SECRETS, redact, redact_obj


def litellm_module() -> Any:
    """litellm, imported at the first model call (about 3 s of imports: a process that calls no model, such as a
    scoring run or the CLI, never pays them) and configured once."""
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


class LLMError(RuntimeError):
    """A model call that failed, said so that the person reading it knows what to check."""


class BudgetExceeded(LLMError):
    """The project's budget is spent: the call was not made."""


class ModelNotAllowed(LLMError):
    """The model is not allowed for the project (`models.allowed`, `allowed_models`): the call was not made."""


@dataclass(frozen=True)
class LLMReply:
    content: str
    model: str
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float
    latency_ms: float
    raw: Any


def register_prices(settings: ModelSettings) -> None:
    """Local and scripted models have no public price: paid.yaml gives one so that costs are tracked."""
    if settings.input_cost_per_token is None and settings.output_cost_per_token is None:
        return
    provider = settings.name.split("/", 1)[0] if "/" in settings.name else "openai"
    entry = {
        "input_cost_per_token": settings.input_cost_per_token or 0.0,
        "output_cost_per_token": settings.output_cost_per_token or 0.0,
        "cache_read_input_token_cost": (settings.input_cost_per_token or 0.0) / 10,
        "cache_creation_input_token_cost": settings.input_cost_per_token or 0.0,
        "litellm_provider": provider,
        "mode": "chat",
        "max_tokens": 8192,
        "max_input_tokens": 200000,
        "max_output_tokens": 8192,
    }
    litellm_module().register_model({settings.name: entry, settings.name.split("/", 1)[-1]: entry})


class LLMGateway:
    def __init__(
        self,
        settings: ModelSettings,
        ledger: Ledger | None = None,
        guard: Callable[[], str | None] | None = None,
        allowed: frozenset[str] | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.guard = guard  # says why no more calls may be made (a spent budget), checked before each call
        # The project's allowed models, enforced here, the last point before a call: whatever chose the model (the
        # selection policy, an experiment's variant, a fallback list), no other model is called. None: unrestricted.
        self.allowed = allowed
        register_prices(settings)

    def using(self, settings: ModelSettings) -> LLMGateway:
        """The same door (ledger, budget guard, allowed models) to another model."""
        return LLMGateway(settings, self.ledger, self.guard, self.allowed)

    def refusal(self) -> str | None:
        """Why this gateway's model may not be called for the project, or None."""
        if self.allowed is None or self.settings.name in self.allowed:
            return None
        return (
            f"the model {self.settings.name} is not allowed for this project"
            f" (allowed: {', '.join(sorted(self.allowed))}); add it to models.allowed and the repository's"
            " allowed_models in paid.yaml to use it"
        )

    def allowed_fallbacks(self) -> list[str]:
        return [name for name in self.settings.fallbacks if self.allowed is None or name in self.allowed]

    def _kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "temperature": self.settings.temperature,
            "timeout": self.settings.timeout_seconds,
        }
        if self.settings.api_base:
            kwargs["api_base"] = self.settings.api_base
        if self.settings.api_key_env:
            key = os.environ.get(self.settings.api_key_env)
            if not key:
                raise LLMError(
                    f"the environment variable {self.settings.api_key_env} (model.api_key_env) is not set:"
                    " export the provider's API key there"
                )
            SECRETS.register(key, self.settings.api_key_env)
            kwargs["api_key"] = key
        elif self.settings.api_base:
            kwargs["api_key"] = "not-needed"  # local OpenAI-compatible servers still want a key
        if self.allowed_fallbacks():
            kwargs["fallbacks"] = self.allowed_fallbacks()  # a fallback not allowed is never passed on
        return kwargs

    def _record_error(
        self, stream: str, purpose: str, run_id: str | None, error: str, error_type: str, latency_ms: float
    ) -> None:
        """An `llm.error`: a call refused or failed, with what the model, purpose and run were."""
        if self.ledger is None:
            return
        data = {"model": self.settings.name, "purpose": purpose, "run_id": run_id}
        self.ledger.append(
            stream, Kind.LLM_ERROR, {**data, "error": error, "error_type": error_type, "latency_ms": latency_ms}
        )

    def complete(
        self,
        messages: list[dict[str, Any]],
        stream: str,
        purpose: str,
        run_id: str | None = None,
        **extra: Any,
    ) -> LLMReply:
        refusal = self.guard() if self.guard else None
        if refusal:
            if self.ledger is not None:
                self.ledger.append(
                    stream, Kind.BUDGET_EXCEEDED, {"run_id": run_id, "purpose": purpose, "reason": refusal}
                )
                record_budget_stop(self.ledger, stream, purpose, run_id, refusal)
            raise BudgetExceeded(refusal)
        not_allowed = self.refusal()
        if not_allowed:
            self._record_error(stream, purpose, run_id, not_allowed, ModelNotAllowed.__name__, 0.0)
            raise ModelNotAllowed(not_allowed)
        # What the agent saw in its sandbox and what issue authors wrote goes to a third party: never a secret.
        messages = [{**m, "content": redact_obj(m.get("content"))} for m in messages]
        started = time.monotonic()
        try:
            response = litellm_module().completion(
                model=self.settings.name, messages=messages, **self._kwargs(), **extra
            )
        except Exception as exc:  # litellm raises many provider-specific types
            latency = (time.monotonic() - started) * 1000
            self._record_error(stream, purpose, run_id, redact(str(exc)), type(exc).__name__, round(latency, 1))
            raise LLMError(
                f"the model {self.settings.name} failed ({type(exc).__name__}): {redact(str(exc))[:300]}; check"
                " model.name, model.api_base and the API key in paid.yaml"
            ) from exc
        latency = (time.monotonic() - started) * 1000
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        details = getattr(usage, "prompt_tokens_details", None)
        tokens_cached = int(getattr(details, "cached_tokens", 0) or 0) if details else 0
        try:
            cost = float(litellm_module().completion_cost(completion_response=response, model=self.settings.name))
        except Exception:  # an unpriced model: recorded as 0 and visible as such
            cost = 0.0
        reply = LLMReply(
            content=response.choices[0].message.content or "",
            model=str(getattr(response, "model", None) or self.settings.name),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            tokens_cached=tokens_cached,
            cost_usd=cost,
            latency_ms=latency,
            raw=response,
        )
        if self.ledger is not None:
            self.ledger.append(
                stream,
                Kind.LLM_CALL,
                {
                    "model": self.settings.name,
                    "purpose": purpose,
                    "run_id": run_id,
                    "tokens_in": tokens_in,
                    "tokens_out": tokens_out,
                    "tokens_cached": tokens_cached,
                    "cost_usd": cost,
                    "latency_ms": round(latency, 1),
                },
            )
        return reply


def record_budget_stop(ledger: Ledger, stream: str, purpose: str, run_id: str | None, refusal: str) -> None:
    """The model call refused for a spent budget; once per run (a run stops at its first refusal)."""
    decision = Decision(
        DecisionKind.BUDGET_STOP, "stop_run", refusal, ("call_model", "stop_run"), {"purpose": purpose}, run_id or ""
    )
    key = decision_key(DecisionKind.BUDGET_STOP, stream, run_id) if run_id else None
    record_decision(ledger, stream, decision, key)


def json_reply(text: str) -> dict[str, Any] | None:
    """The JSON object in a model's answer (models wrap it in prose or fences), or None."""
    import json
    import re

    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
