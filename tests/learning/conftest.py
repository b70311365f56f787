"""A real ledger on SQLite and on PostgreSQL (a database of its own in the private cluster, dropped afterwards), models priced in paid.yaml on the scripted model, and history to choose from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from paid_standins.model import Script, ScriptedModelServer

from paid_dagster.config import PaidConfig, parse_config
from paid_dagster.ledger import Ledger
from tests.databases import postgres_database
from tests.loop.conftest import loop  # noqa: F401  (the forge, the scripted model and a Dagster instance)

REPO = "octo-org/shopcart"
DEFAULT = "openai/paid-scripted"  # $3 / $15 per million tokens
MINI = "openai/paid-scripted-mini"  # the cheapest
MAX = "openai/paid-scripted-max"  # the dearest
PRICES = {DEFAULT: (3e-06, 1.5e-05), MINI: (1e-07, 4e-07), MAX: (1.5e-05, 7.5e-05)}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh ledger database: a SQLite file, or a PostgreSQL database of its own (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    with postgres_database("paid_learning") as url:
        yield url


@pytest.fixture
def ledger(ledger_url: str) -> Ledger:
    return Ledger(ledger_url)


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    """The scripted model; tests set `model.script` to what the meta-agent answers."""
    with ScriptedModelServer(Script([])) as server:
        yield server


def models_config(api_base: str, repo: dict[str, Any] | None = None, **models: Any) -> PaidConfig:
    """Three priced scripted models, all allowed; `repo` adds to the repository's entry, `models` to `models:`."""
    catalogue = [
        {"name": name, "api_base": api_base, "input_cost_per_token": i, "output_cost_per_token": o}
        for name, (i, o) in PRICES.items()
        if name != DEFAULT
    ]
    data = {
        "model": {
            "name": DEFAULT,
            "api_base": api_base,
            "input_cost_per_token": PRICES[DEFAULT][0],
            "output_cost_per_token": PRICES[DEFAULT][1],
        },
        "models": {
            "allowed": list(PRICES),
            "catalogue": catalogue,
            "quality_floor": 0.6,
            "min_samples": 3,
            "cheaper_at": 0.8,
            **models,
        },
        "repositories": [{"name": REPO, **(repo or {})}],
    }
    return parse_config(data)


def scored_history(ledger: Ledger, model: str, task: str, scores: list[float], first_issue: int) -> None:
    """Issues on which `model` did `task`, each with its latest quality score."""
    owner, name = REPO.split("/")
    for offset, score in enumerate(scores):
        stream = f"{owner}__{name}__{first_issue + offset}"
        run_id = f"{model.rsplit('/', 1)[-1]}-{task}-{first_issue + offset}"
        if task == "coding":
            ledger.append(stream, "run.started", {"run_id": run_id, "model": model})
            ledger.append(
                stream,
                "run.finished",
                {"run_id": run_id, "model": model, "outcome": "completed", "cost_usd": 0.02, "duration_s": 30.0},
            )
        else:
            ledger.append(stream, "llm.call", {"model": model, "purpose": task, "cost_usd": 0.001, "latency_ms": 400})
        ledger.append(stream, "quality.scored", {"score": 0.1, "project": REPO})  # superseded by the next one
        ledger.append(stream, "quality.scored", {"score": score, "project": REPO})


def spend_today(ledger: Ledger, usd: float) -> None:
    ledger.append(
        "octo-org__shopcart__999",
        "llm.call",
        {"model": DEFAULT, "purpose": "agent", "cost_usd": usd},
        at=datetime.now(UTC),
    )
