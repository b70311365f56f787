"""The quality score of one issue's outcome, 0..1, folded from recorded events only.

0.30 merged + 0.20 CI passed on the first try + 0.20 human vote (−1 → 0, none → 0.5, +1 → 1)
+ 0.15 iterations (1 − 0.1·(n − 1), floor 0) + 0.10 lint clean + 0.05 tests passing.
Weights come from paid.yaml; the formula's version is FORMULA_VERSION (bump it when this code changes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..agent.outcome import RunOutcome
from ..config import ScoreWeights
from ..ledger import Event
from ..ledger.kinds import Kind

FORMULA_VERSION = "score-v1"
SCORE_KINDS = (Kind.PR_OBSERVED, Kind.FEEDBACK_RECEIVED, Kind.RUN_FINISHED, Kind.CHECKS_RAN)


@dataclass(frozen=True)
class Score:
    score: float
    components: dict[str, float]
    settled: bool  # the PR was merged or closed
    iterations: int
    formula_version: str = FORMULA_VERSION


def _check_component(checks: list[dict[str, Any]], name: str) -> float:
    """1 when the run's change made no check of this kind worse (without a baseline: when they all passed)."""
    ran = [c for c in checks if c.get("kind", c.get("check")) == name and c.get("status") not in ("error", "not run")]
    if not ran:
        return 0.5
    return 0.0 if any(c["worse"] if "worse" in c else c["status"] != "passed" for c in ran) else 1.0


def score_events(events: Iterable[Event], weights: ScoreWeights) -> Score:
    merged = settled = False
    first_ci: str | None = None
    votes: dict[str, int] = {}
    runs = 0
    last_checks: list[dict[str, Any]] = []
    for event in events:
        data = event.data
        if event.kind == Kind.PR_OBSERVED:
            merged = merged or bool(data.get("merged"))
            settled = settled or data.get("state") == "closed" or bool(data.get("merged"))
            if first_ci is None and data.get("ci") in ("success", "failure"):
                first_ci = data["ci"]
        elif event.kind == Kind.FEEDBACK_RECEIVED and data.get("vote") in (1, -1):
            votes[str(data.get("user"))] = int(data["vote"])
        elif event.kind == Kind.RUN_FINISHED and data.get("outcome") != RunOutcome.ERROR:
            runs += 1
        elif event.kind == Kind.CHECKS_RAN:
            last_checks = list(data.get("checks") or [])
    net = sum(votes.values())
    vote = 0.5 if not votes or net == 0 else (1.0 if net > 0 else 0.0)
    n = max(runs, 1)
    components = {
        "merged": 1.0 if merged else 0.0,
        "ci_first_try": 1.0 if first_ci == "success" else 0.0,
        "human_vote": vote,
        "iterations": max(0.0, 1.0 - 0.1 * (n - 1)),
        "lint_clean": _check_component(last_checks, "lint"),
        "tests_passing": _check_component(last_checks, "tests"),
    }
    w = weights.model_dump()
    score = round(sum(w[k] * v for k, v in components.items()) / (weights.total() or 1.0), 6)
    return Score(score, components, settled, n)
