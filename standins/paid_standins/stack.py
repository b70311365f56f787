"""The offline stack: the forge (GitHub stand-in) and the scripted model, plus a paid.yaml pointing at them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .forge import Forge, SampleSeed, seed_sample
from .model import MODEL_NAME, Script, ScriptedModelServer

TOKEN_ENV = "PAID_FORGE_TOKEN"
# A scripted model priced like a mid-range hosted model, so that cost tracking is exercised for real.
INPUT_COST_PER_TOKEN = 3e-06
OUTPUT_COST_PER_TOKEN = 1.5e-05


@dataclass
class OfflineStack:
    forge: Forge
    model: ScriptedModelServer
    seed: SampleSeed
    config_path: Path

    def stop(self) -> None:
        self.model.stop()
        self.forge.stop()


def stack_config(forge_url: str, api_base: str, repo: str, work_dir: Path, sandbox: str) -> dict[str, Any]:
    return {
        "github": {"base_url": forge_url, "token_env": TOKEN_ENV, "seconds_between_writes": 0, "retries": 2},
        "model": {
            "name": f"openai/{MODEL_NAME}",
            "api_base": api_base,
            "input_cost_per_token": INPUT_COST_PER_TOKEN,
            "output_cost_per_token": OUTPUT_COST_PER_TOKEN,
        },
        "limits": {
            "max_turns": 20,
            "wall_time_seconds": 600,
            "cost_ceiling_usd": 1.0,
            "command_timeout_seconds": 60,
        },
        "first_tick_backlog": 10,
        "work_dir": str(work_dir),
        # The sample has no dependencies (Paid's bundled pytest and ruff check it): no setup phase, no network.
        "repositories": [{"name": repo, "sandbox": sandbox, "setup": {"enabled": False}}],
    }


def start_stack(
    directory: Path,
    script: str | dict[str, Any] = "demo",
    forge_port: int = 0,
    model_port: int = 0,
    sandbox: str = "auto",
) -> OfflineStack:
    """Starts both stand-ins with state under `directory`, seeds the sample and writes `paid.yaml` there."""
    directory.mkdir(parents=True, exist_ok=True)
    forge = Forge(directory / "forge", port=forge_port).start()
    seed = seed_sample(forge)
    model = ScriptedModelServer(Script.load(script), port=model_port).start()
    config = stack_config(forge.url, model.api_base, seed.repo, directory / "work", sandbox)
    config_path = directory / "paid.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    os.environ[TOKEN_ENV] = forge.token(seed.bot)
    return OfflineStack(forge, model, seed, config_path)
