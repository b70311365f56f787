"""The models Paid may choose from, as data: prices, context window and capabilities from litellm's own price map
(bundled, never downloaded), or from paid.yaml for models litellm does not know (local and scripted ones).

A model with no price from either is left out, with the reason, so that "cheapest" never means "unknown".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ..config import ModelSettings, PaidConfig

# What "cheaper" compares: the price of one typical call. Agent turns send the conversation so far and answer
# briefly, so input dominates; a single per-token figure would rank an output-heavy price wrongly.
REFERENCE_TOKENS_IN = 4000
REFERENCE_TOKENS_OUT = 500


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    input_cost_per_token: float
    output_cost_per_token: float
    context_window: int | None
    supports_function_calling: bool | None
    supports_vision: bool | None
    priced_by: str  # "paid.yaml" or "litellm"

    @property
    def reference_call_usd(self) -> float:
        """The price of a typical call (REFERENCE_TOKENS_IN in, REFERENCE_TOKENS_OUT out)."""
        return REFERENCE_TOKENS_IN * self.input_cost_per_token + REFERENCE_TOKENS_OUT * self.output_cost_per_token

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reference_call_usd": round(self.reference_call_usd, 8)}


def litellm_info(name: str) -> dict[str, Any] | None:
    """litellm's entry for the model (its bundled map, and models registered since), or None if it has none."""
    try:
        from ..llm.gateway import litellm_module

        return dict(litellm_module().get_model_info(name))
    except Exception:  # litellm says "unknown model" with several exception types
        return None


def entry_for(settings: ModelSettings) -> CatalogueEntry | str:
    """The model's catalogue entry, or why it has none."""
    info = litellm_info(settings.name) or {}
    given = settings.input_cost_per_token is not None and settings.output_cost_per_token is not None
    input_cost = settings.input_cost_per_token if given else info.get("input_cost_per_token")
    output_cost = settings.output_cost_per_token if given else info.get("output_cost_per_token")
    if input_cost is None or output_cost is None:
        return (
            f"litellm has no price for {settings.name}: give its input_cost_per_token and output_cost_per_token"
            " under models.catalogue in paid.yaml (or under model: when it is the default), or leave it out of"
            " models.allowed"
        )
    return CatalogueEntry(
        name=settings.name,
        input_cost_per_token=float(input_cost),
        output_cost_per_token=float(output_cost),
        context_window=settings.context_window or info.get("max_input_tokens") or info.get("max_tokens"),
        supports_function_calling=info.get("supports_function_calling"),
        supports_vision=info.get("supports_vision"),
        priced_by="paid.yaml" if given else "litellm",
    )


@dataclass(frozen=True)
class ModelCatalogue:
    entries: dict[str, CatalogueEntry]
    unpriced: dict[str, str]  # model → why it cannot be used

    @classmethod
    def of(cls, config: PaidConfig, names: Iterable[str]) -> ModelCatalogue:
        entries: dict[str, CatalogueEntry] = {}
        unpriced: dict[str, str] = {}
        for name in dict.fromkeys(names):
            found = entry_for(config.model_settings(name))
            if isinstance(found, CatalogueEntry):
                entries[name] = found
            else:
                unpriced[name] = found
        return cls(entries, unpriced)

    @classmethod
    def for_config(cls, config: PaidConfig, repository: str | None = None) -> ModelCatalogue:
        """Every model allowed (for the repository when named)."""
        return cls.of(config, config.allowed_models(repository))

    def cheapest(self, names: Iterable[str]) -> str:
        """The model of `names` whose typical call costs least (ties: the first listed)."""
        priced = [name for name in names if name in self.entries]
        return min(priced, key=lambda name: self.entries[name].reference_call_usd)
