"""The prompt registry: what choosing a run's prompts costs (the registry seeded, with 200 versions and their
promotions, in a ledger of 50k other events), against the baseline of reading and hashing the template files
as runs did before the registry; and the `prompt_registry` fold over 2,000 runs against `prompt_outcomes`'s."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import rate, row, timed
from paid_dagster.agent.prompts import TEMPLATES_DIR, content_hash
from paid_dagster.learning.registry import PromptRegistry, registry_for
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind
from paid_dagster.outcomes.prompts import prompt_outcomes, version_outcomes

RUN_PROMPTS = ("system", "task", "follow_up")


def read_and_hash() -> dict[str, str]:
    """The baseline: what a run did before, each template read from its file and hashed."""
    return {name: content_hash((TEMPLATES_DIR / f"{name}.md").read_text()) for name in RUN_PROMPTS}


def choose(ledger: Ledger) -> dict[str, str]:
    registry = registry_for(ledger, "octo/shop", None)
    return {name: registry.choose(name, "octo/shop", {}).version.version for name in RUN_PROMPTS}


def fill(ledger: Ledger, runs: int) -> None:
    registry = PromptRegistry(ledger)
    task = registry.current("task")
    for i in range(200):
        version = registry.add("task", f"{task.template}\nvariant {i}\n", "bench", project=("", "octo/shop")[i % 2])
        if i % 10 == 0:
            registry.promote("task", version.version, "bench", "bench", project=version.project)
    bundle = {name: registry.current(name).version for name in RUN_PROMPTS}
    events = [
        {"stream": f"octo__shop__{i % 400}", "kind": Kind.LLM_CALL, "data": {"cost_usd": 0.001}} for i in range(50_000)
    ]
    events += [
        {
            "stream": f"octo__shop__{i % 400}",
            "kind": Kind.RUN_FINISHED,
            "data": {
                "run_id": f"r{i}",
                "prompt_bundle": bundle,
                "prompt_template_hash": bundle["task"],
                "cost_usd": 0.02,
            },
        }
        for i in range(runs)
    ]
    events += [{"stream": f"octo__shop__{i}", "kind": Kind.QUALITY_SCORED, "data": {"score": 0.5}} for i in range(400)]
    ledger.append_many(events)


def main() -> None:
    print("prompt registry (SQLite)")
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}")
        fill(ledger, 2_000)
        baseline = rate(read_and_hash, 200)
        row("a run's prompts, read and hashed from files (baseline)", baseline, "runs/s")
        row("a run's prompts chosen from the registry", rate(lambda: choose(ledger), 100), "runs/s", baseline)
        versions = PromptRegistry(ledger).versions()
        before = timed(lambda: prompt_outcomes(ledger))
        row("prompt_outcomes over 2,000 runs (baseline)", before, "s", higher_is_better=False)
        after = timed(lambda: version_outcomes(ledger, versions))
        row(f"prompt_registry's fold over 2,000 runs, {len(versions)} versions", after, "s", before, False)
