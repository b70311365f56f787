"""Which prompt versions and models give good outcomes at what cost: a fold over runs, scores and model calls."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..agent.outcome import RunOutcome
from ..learning.registry import PromptVersion
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


GLOBAL_SHOWN = "(global)"
VERSION_COLUMNS = [
    "name",
    "project",
    "version",
    "status",
    "parent",
    "author",
    "created_at",
    "note",
    "uses",
    "issues",
    "mean_score",
    "mean_run_cost_usd",
]


def prompt_uses(ledger: Ledger) -> dict[tuple[str, str], list[tuple[str, float | None]]]:
    """(prompt name, version) → (issue, run cost or None) per use: each agent run's bundle (the task template's
    hash for runs recorded before bundles), each triage and each reviewed agent run."""
    uses: dict[tuple[str, str], list[tuple[str, float | None]]] = defaultdict(list)
    kinds = [Kind.RUN_FINISHED, Kind.TRIAGE_DECIDED, Kind.REVIEW_POSTED]
    reviewed: set[tuple[str, str, str]] = set()
    for event in ledger.iter(kinds=kinds):
        data, issue = event.data, event.stream
        if event.kind == Kind.RUN_FINISHED:
            bundle = data.get("prompt_bundle") or (
                {"task": data["prompt_template_hash"]} if data.get("prompt_template_hash") else {}
            )
            for name, version in bundle.items():
                uses[(name, version)].append((issue, float(data.get("cost_usd") or 0)))
        elif event.kind == Kind.TRIAGE_DECIDED and data.get("prompt_template_hash"):
            uses[("triage", data["prompt_template_hash"])].append((issue, None))
        elif event.kind == Kind.REVIEW_POSTED and data.get("prompt_version"):
            once = (issue, str(data.get("attempt")), data["prompt_version"])  # one use per reviewed run, not per round
            if once not in reviewed:
                reviewed.add(once)
                uses[("review", data["prompt_version"])].append((issue, None))
    return uses


def version_outcomes(ledger: Ledger, versions: Sequence[PromptVersion]) -> pd.DataFrame:
    """One row per registry version: how often it was sent, the mean latest score of the issues it was sent for
    and the mean cost of the agent runs that sent it."""
    uses = prompt_uses(ledger)
    scores = {e.stream: float(e.data["score"]) for e in ledger.iter(kinds=[Kind.QUALITY_SCORED])}
    rows = []
    for v in versions:
        used = uses.get((v.name, v.version), [])
        issues = {issue for issue, _ in used}
        scored = [scores[i] for i in issues if i in scores]
        costs = [cost for _, cost in used if cost is not None]
        rows.append(
            {
                "name": v.name,
                "project": v.project or GLOBAL_SHOWN,
                "version": v.version,
                "status": v.status,
                "parent": v.parent or "",
                "author": v.author,
                "created_at": v.created_at.isoformat(timespec="seconds"),
                "note": v.note,
                "uses": len(used),
                "issues": len(issues),
                "mean_score": round(sum(scored) / len(scored), 4) if scored else None,
                "mean_run_cost_usd": round(sum(costs) / len(costs), 6) if costs else None,
            }
        )
    return pd.DataFrame(rows, columns=VERSION_COLUMNS)
