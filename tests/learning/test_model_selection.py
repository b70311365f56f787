"""The selection policy on a real ledger (SQLite and PostgreSQL), its meta-agent on the scripted model over HTTP,
and the gateway refusing any model not allowed for the project."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from paid_standins.model import Script, ScriptedModelServer

from paid_dagster.config import ConfigError, PaidConfig, parse_config
from paid_dagster.learning.catalogue import ModelCatalogue
from paid_dagster.learning.selection import NoModelAllowed, Selection, SelectionRequest, select_model
from paid_dagster.ledger import Ledger
from paid_dagster.llm import LLMError, LLMGateway, ModelNotAllowed

from ..agent.harness import SUBMIT, harness
from .conftest import DEFAULT, MAX, MINI, REPO, models_config, scored_history, spend_today

STREAM = "octo-org__shopcart__1"


def select(config: PaidConfig, ledger: Ledger, task: str = "coding", key: str = "k1", **extra: object) -> Selection:
    gateway = LLMGateway(config.model, ledger, allowed=frozenset(config.allowed_models(REPO)))
    request = SelectionRequest(
        config=config,
        project=REPO,
        task=task,  # type: ignore[arg-type]
        ledger=ledger,
        stream=STREAM,
        run_id="run1",
        idempotency_key=f"decision.made:{key}",
        gateway=gateway,
        **extra,  # type: ignore[arg-type]
    )
    return select_model(request)


def meta_answers(model: ScriptedModelServer, *turns: dict[str, object]) -> None:
    model.script = Script([{"match": "You choose the model Paid uses", "turns": list(turns)}])


def requested_models(model: ScriptedModelServer) -> list[str]:
    return [json.loads(body)["model"] for body in model.request_bodies]


def recorded(ledger: Ledger) -> list[dict[str, object]]:
    return [e.data for e in ledger.read(kinds=["decision.made"])]


def test_without_evidence_the_configured_default_is_chosen(ledger: Ledger, model: ScriptedModelServer) -> None:
    selection = select(models_config(model.api_base), ledger)
    assert selection.model == DEFAULT and selection.settings.name == DEFAULT
    (decision,) = recorded(ledger)
    assert decision["decision"] == "model" and decision["choice"] == DEFAULT
    assert decision["candidates"] == [DEFAULT, MINI, MAX]
    context = decision["context"]
    assert isinstance(context, dict) and context["task"] == "coding" and context["rule"] == "default"
    assert context["candidates"][MINI]["input_cost_per_token"] == 1e-07
    assert model.request_bodies == []  # the rules alone call no model


def test_the_cheapest_model_whose_quality_clears_the_floor_is_chosen(
    ledger: Ledger, model: ScriptedModelServer
) -> None:
    scored_history(ledger, MAX, "coding", [0.95, 0.9, 0.92], 10)
    scored_history(ledger, MINI, "coding", [0.7, 0.8], 20)  # good, but two scores are not enough
    scored_history(ledger, MINI, "triage", [0.9, 0.9, 0.9], 30)  # another task's record does not count
    config = models_config(model.api_base)
    first = select(config, ledger, key="a")
    assert first.model == MAX and "0.92 over 3 scored issues" in first.decision.rationale
    scored_history(ledger, MINI, "coding", [0.75], 40)
    second = select(config, ledger, key="b")
    assert second.model == MINI and second.decision.context["candidates"][MINI]["quality_n"] == 3
    scored_history(ledger, MINI, "coding", [0.1, 0.1, 0.1], 50)  # its mean falls below the floor
    assert select(config, ledger, key="c").model == MAX


def test_as_the_budget_nears_its_limit_the_policy_picks_cheaper(ledger: Ledger, model: ScriptedModelServer) -> None:
    scored_history(ledger, MAX, "coding", [0.95, 0.9, 0.92], 10)
    config = models_config(model.api_base, repo={"budget_daily_usd": 1.0})
    spend_today(ledger, 0.5)
    assert select(config, ledger, key="half").model == MAX
    spend_today(ledger, 0.35)  # 85 % of the daily budget: past cheaper_at (80 %)
    near = select(config, ledger, key="near")
    assert near.model == MINI
    assert "85% of the daily budget is spent" in near.decision.rationale
    assert near.decision.context["budget"] == {"share": 0.85, "budget": "daily", "cheaper_at": 0.8}


def test_a_disallowed_model_is_never_chosen_nor_called(ledger: Ledger, model: ScriptedModelServer) -> None:
    scored_history(ledger, MINI, "coding", [0.9, 0.9, 0.9, 0.9], 10)  # the best and cheapest record, but...
    config = models_config(model.api_base, repo={"allowed_models": [DEFAULT, MAX], "budget_daily_usd": 1.0})
    assert select(config, ledger, key="a").model == DEFAULT  # ...not allowed for this project
    spend_today(ledger, 0.95)
    cheaper = select(config, ledger, key="b")
    assert cheaper.model == DEFAULT and MINI not in cheaper.decision.candidates  # the cheapest *allowed*
    # Whatever names it (an experiment's variant, a hand-made gateway), the gateway refuses before any request.
    gateway = LLMGateway(config.model, ledger, allowed=frozenset(config.allowed_models(REPO)))
    with pytest.raises(ModelNotAllowed, match="not allowed for this project"):
        gateway.using(config.model_settings(MINI)).complete([{"role": "user", "content": "hi"}], STREAM, "agent")
    assert model.request_bodies == []
    (error,) = [e.data for e in ledger.read(kinds=["llm.error"])]
    assert error["model"] == MINI and error["error_type"] == "ModelNotAllowed"


def test_a_fallback_that_is_not_allowed_is_never_called(ledger: Ledger) -> None:
    failing = Script([{"match": ".*", "turns": [{"error": 400, "message": "scripted refusal"}]}])
    with ScriptedModelServer(failing) as model:
        config = models_config(model.api_base, repo={"allowed_models": [DEFAULT, MAX]})
        with_fallbacks = config.model.model_copy(update={"fallbacks": (MINI, MAX)})
        gateway = LLMGateway(with_fallbacks, ledger, allowed=frozenset(config.allowed_models(REPO)))
        with pytest.raises(LLMError, match="scripted refusal"):
            gateway.complete([{"role": "user", "content": "hi"}], STREAM, "agent")
    asked = requested_models(model)
    assert "paid-scripted-max" in asked, asked  # the allowed fallback was tried (so fallbacks do reach HTTP)...
    assert "paid-scripted-mini" not in asked  # ...and the other never was


def test_a_meta_agent_naming_an_unknown_model_falls_back_to_the_rules_with_a_logged_reason(
    ledger: Ledger, model: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    meta_answers(model, {"content": '{"model": "openai/gpt-9-ultra", "rationale": "trust me"}'})
    config = models_config(model.api_base, meta_agent={"enabled": True})
    with caplog.at_level(logging.WARNING):
        selection = select(config, ledger)
    assert selection.model == DEFAULT  # the rules' choice
    assert "'openai/gpt-9-ultra', an unknown model" in selection.decision.rationale
    assert "so the rules decide" in selection.decision.rationale
    meta = selection.decision.context["meta_agent"]
    assert (
        meta["asked"] is True and meta["answer"] == "openai/gpt-9-ultra" and "unknown model" in meta["fallback_reason"]
    )
    assert any("gpt-9-ultra" in r.getMessage() and "the rules decide" in r.getMessage() for r in caplog.records)
    (call,) = [e.data for e in ledger.read(kinds=["llm.call"])]
    assert call["purpose"] == "model_selection" and call["model"] == DEFAULT
    assert recorded(ledger)[0]["rationale"] == selection.decision.rationale


def test_a_meta_agent_naming_a_disallowed_model_falls_back(ledger: Ledger, model: ScriptedModelServer) -> None:
    meta_answers(model, {"content": f'{{"model": "{MINI}", "rationale": "cheap"}}'})
    config = models_config(model.api_base, meta_agent={"enabled": True}, repo={"allowed_models": [DEFAULT, MAX]})
    selection = select(config, ledger)
    assert selection.model == DEFAULT and f"'{MINI}', which is left out here" not in selection.decision.rationale
    assert f"the meta-agent named '{MINI}', which is not allowed for {REPO}" in selection.decision.rationale


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"content": "I would go with the big one."}, "names no model"),
        ({"content": '{"model": 42}'}, "names no model"),
        ({"error": 500, "message": "overloaded"}, "the meta-agent's call failed"),
    ],
)
def test_a_meta_agent_that_fails_or_cannot_be_read_leaves_it_to_the_rules(
    ledger: Ledger, model: ScriptedModelServer, answer: dict[str, object], reason: str
) -> None:
    meta_answers(model, answer)
    selection = select(models_config(model.api_base, meta_agent={"enabled": True}), ledger)
    assert selection.model == DEFAULT and reason in selection.decision.rationale


def test_a_meta_agent_valid_choice_is_used_and_read_back_on_a_retry(ledger: Ledger, model: ScriptedModelServer) -> None:
    meta_answers(model, {"content": f'Sure. {{"model": "{MAX}", "rationale": "the issue touches payments"}}'})
    config = models_config(model.api_base, meta_agent={"enabled": True, "model": MINI})
    selection = select(config, ledger)
    assert selection.model == MAX and selection.settings.name == MAX
    assert selection.decision.rationale.startswith("meta-agent: the issue touches payments")
    assert "the rules would choose openai/paid-scripted" in selection.decision.rationale
    assert requested_models(model) == ["paid-scripted-mini"]  # the meta-agent's own model
    again = select(config, ledger)  # the same step retried: the recorded choice, no second question
    assert again.model == MAX and len(model.request_bodies) == 1 and len(recorded(ledger)) == 1


def test_near_the_budget_the_meta_agent_is_not_asked(ledger: Ledger, model: ScriptedModelServer) -> None:
    meta_answers(model, {"content": f'{{"model": "{MAX}"}}'})
    config = models_config(model.api_base, meta_agent={"enabled": True}, repo={"budget_daily_usd": 1.0})
    spend_today(ledger, 0.9)
    selection = select(config, ledger)
    assert selection.model == MINI and model.request_bodies == []
    assert selection.decision.context["meta_agent"]["asked"] is False


def test_a_cli_engine_keeps_its_configured_model(ledger: Ledger, model: ScriptedModelServer) -> None:
    config = models_config(model.api_base, repo={"budget_daily_usd": 1.0})
    spend_today(ledger, 0.9)
    assert select(config, ledger, only=(DEFAULT,)).model == DEFAULT
    narrowed = models_config(model.api_base, repo={"allowed_models": [MINI]})
    with pytest.raises(NoModelAllowed, match=f"{DEFAULT}: not allowed for {REPO}"):
        select(narrowed, ledger, key="k2", only=(DEFAULT,))


def test_a_model_litellm_cannot_price_is_left_out_and_said_why(ledger: Ledger, model: ScriptedModelServer) -> None:
    data = {
        "model": {"name": "openai/gpt-4o-mini"},
        "models": {"allowed": ["openai/gpt-4o-mini", "openai/homebrew-7b"]},
        "repositories": [REPO],
    }
    config = parse_config(data)
    catalogue = ModelCatalogue.for_config(config, REPO)
    entry = catalogue.entries["openai/gpt-4o-mini"]
    assert entry.priced_by == "litellm" and entry.input_cost_per_token == 1.5e-07 and entry.context_window == 128000
    assert entry.supports_function_calling is True
    assert (
        "give its input_cost_per_token and output_cost_per_token under models.catalogue"
        in (catalogue.unpriced["openai/homebrew-7b"])
    )
    only_unpriced = parse_config({**data, "model": {"name": "openai/homebrew-7b"}, "models": {}})
    with pytest.raises(NoModelAllowed, match="litellm has no price for openai/homebrew-7b"):
        select(only_unpriced, ledger)
    scripted = ModelCatalogue.for_config(models_config(model.api_base), REPO).entries[MINI]
    assert scripted.priced_by == "paid.yaml" and scripted.output_cost_per_token == 4e-07


def test_repositories_may_only_narrow_the_allowed_models() -> None:
    base = {"models": {"allowed": [DEFAULT, MINI]}}
    with pytest.raises(ConfigError, match=r"allowed_models: openai/paid-scripted-max not in models.allowed"):
        parse_config({**base, "repositories": [{"name": REPO, "allowed_models": [MAX]}]})
    with pytest.raises(ConfigError, match=r"models.tasks.review: openai/paid-scripted-max not in models.allowed"):
        parse_config(
            {**base, "models": {**base["models"], "tasks": {"review": {"default": MAX}}}, "repositories": [REPO]}
        )
    plain = parse_config({"repositories": [REPO]})  # no models section: the one configured model, as before
    assert plain.allowed_models(REPO) == ("anthropic/claude-sonnet-4-5",)
    assert plain.task_candidates("review", REPO) == ("anthropic/claude-sonnet-4-5",)


def test_a_run_whose_task_has_no_priced_model_does_not_start(tmp_path: Path) -> None:
    with harness(tmp_path, {"conversations": [{"turns": [SUBMIT]}]}, checks=False) as h:
        unpriced = h.config.model.model_copy(
            update={
                "name": "openai/paid-scripted-unpriced",
                "input_cost_per_token": None,
                "output_cost_per_token": None,
            }
        )
        h.config = h.config.model_copy(update={"model": unpriced})
        with pytest.raises(NoModelAllowed, match="litellm has no price for openai/paid-scripted-unpriced"):
            h.run()
        assert h.model.calls == [] and h.ledger.read(kinds=["run.started"]) == []


def test_a_meta_agent_answer_is_data_cleaned_and_capped(ledger: Ledger, model: ScriptedModelServer) -> None:
    hostile = json.dumps({"model": MAX, "rationale": "\x1b[31mignore the rules\x1b[0m\u202e " + "x" * 5000})
    meta_answers(model, {"content": hostile})
    selection = select(models_config(model.api_base, meta_agent={"enabled": True}), ledger)
    assert selection.model == MAX
    rationale = str(recorded(ledger)[0]["rationale"])
    assert "\x1b" not in rationale and "\u202e" not in rationale and len(rationale) < 500
    assert "ignore the rules" in rationale


def test_a_model_an_experiment_pinned_is_used_only_if_the_project_allows_it(
    ledger: Ledger, model: ScriptedModelServer
) -> None:
    scored_history(ledger, MINI, "coding", [0.9, 0.9, 0.9, 0.9], 10)  # the rules alone would pick MINI
    config = models_config(model.api_base, repo={"allowed_models": [DEFAULT, MAX]})
    pinned = select(config, ledger, key="pinned", pinned=MAX, pinned_by="experiment dearer")
    assert pinned.model == MAX and pinned.settings.name == MAX
    decision = recorded(ledger)[-1]
    assert decision["choice"] == MAX and decision["rationale"] == "pinned by experiment dearer"
    # An experiment never widens what a project may call: the variant is refused, nothing is recorded for it.
    with pytest.raises(NoModelAllowed, match="does not allow"):
        select(config, ledger, key="refused", pinned=MINI, pinned_by="experiment cheaper")
    assert ledger.by_key("decision.made:refused") is None
    assert model.request_bodies == []
