"""Which prompt versions and models give good outcomes at what cost: a fold over runs, scores and model calls."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from ..agent.outcome import RunOutcome
from ..ledger import Ledger
from ..ledger.kinds import Kind

COLUMNS = [
    "prompt_version",
    "model",
    "engine",
    "runs",
    "issues",
    "mean_score",
    "completed_rate",
    "mean_cost_usd",
    "cost_per_point_usd",
]


def prompt_outcomes(ledger: Ledger) -> pd.DataFrame:
    """One row per (prompt version, model, engine): runs, mean latest score of the issues, completion rate, cost."""
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    issue_of_run: dict[str, str] = {}
    for event in ledger.iter(kinds=[Kind.RUN_FINISHED]):
        data = event.data
        if not data.get("prompt_template_hash"):
            continue
        key = (data["prompt_template_hash"], str(data.get("model")), str(data.get("engine")))
        runs[key].append(data)
        issue_of_run[data["run_id"]] = event.stream
    scores: dict[str, float] = {}
    for event in ledger.iter(kinds=[Kind.QUALITY_SCORED]):
        scores[event.stream] = float(event.data["score"])
    rows = []
    for (prompt, model, engine), items in sorted(runs.items()):
        issues = {issue_of_run[r["run_id"]] for r in items}
        scored = [scores[i] for i in issues if i in scores]
        mean_score = sum(scored) / len(scored) if scored else None
        mean_cost = sum(float(r.get("cost_usd") or 0) for r in items) / len(items)
        rows.append(
            {
                "prompt_version": prompt,
                "model": model,
                "engine": engine,
                "runs": len(items),
                "issues": len(issues),
                "mean_score": round(mean_score, 4) if mean_score is not None else None,
                "completed_rate": round(
                    sum(1 for r in items if r.get("outcome") == RunOutcome.COMPLETED) / len(items), 4
                ),
                "mean_cost_usd": round(mean_cost, 6),
                "cost_per_point_usd": round(mean_cost / mean_score, 6) if mean_score else None,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
