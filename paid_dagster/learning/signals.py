"""How well the automated parts of the quality score predict what people did: measured on the recorded history,
with the sample size, never assumed.

Per issue, from its latest `quality.scored` (and its latest `review.finished`): the automated components (CI
green on the first try, lint clean, iterations, the review's findings) and the human signals (merged, for the
issues whose PR was merged or closed; a vote up, for the issues with a net vote either way). For each pair:
n, the point-biserial correlation (Pearson's r with a binary signal) with its p-value and a 95 % confidence
interval (Fisher's z), and the AUC (the chance that an issue with the signal has a higher component than one
without; 0.5 is no better than a coin). Below `min_sample` issues, or without variation, no figure: a note says
why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..ledger import Ledger
from ..ledger.kinds import Kind

AUTOMATED = ("ci_first_try", "lint_clean", "iterations", "review_findings")
HUMAN = ("merged", "voted_up")
COLUMNS = [
    "component",
    "signal",
    "n",
    "positives",
    "r",
    "p_value",
    "ci_low",
    "ci_high",
    "auc",
    "note",
]
Z_95 = 1.959964


@dataclass(frozen=True)
class Association:
    """One automated component against one human signal over `n` issues."""

    component: str
    signal: str
    n: int
    positives: int
    r: float | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    auc: float | None = None
    note: str = ""


def issue_signals(ledger: Ledger) -> pd.DataFrame:
    """One row per scored issue: its automated components and human signals (NaN where there is none)."""
    texts = ("settled",)
    numbers = ("c_ci_first_try", "c_lint_clean", "c_iterations", "c_merged", "c_human_vote")
    scored = pd.DataFrame(
        ledger.fields([Kind.QUALITY_SCORED], texts=texts, numbers=numbers),
        columns=["seq", "stream", "kind", *texts, *numbers],
    ).drop_duplicates("stream", keep="last")
    findings = pd.DataFrame(
        [(e.stream, len(e.data.get("findings") or [])) for e in ledger.iter(kinds=[Kind.REVIEW_FINISHED])],
        columns=["stream", "review_findings"],
    ).drop_duplicates("stream", keep="last")
    settled = scored["settled"].astype(str).str.lower().isin(["1", "true"])
    vote = scored["c_human_vote"]
    frame = pd.DataFrame(
        {
            "stream": scored["stream"],
            "ci_first_try": scored["c_ci_first_try"],
            "lint_clean": scored["c_lint_clean"],
            "iterations": scored["c_iterations"],
            "merged": scored["c_merged"].where(settled),
            "voted_up": (vote == 1.0).astype(float).where(vote.isin([0.0, 1.0])),
        }
    )
    return frame.merge(findings, on="stream", how="left").reset_index(drop=True)


def associate(component: pd.Series, signal: pd.Series, min_sample: int) -> Association:
    pairs = pd.DataFrame({"x": component, "y": signal}).dropna()
    name, target = str(component.name), str(signal.name)
    n, positives = len(pairs), int(pairs["y"].sum())
    if n < min_sample:
        return Association(name, target, n, positives, note=f"not enough data: {n} issues, {min_sample} needed")
    if pairs["x"].nunique() < 2 or positives in (0, n):
        return Association(name, target, n, positives, note="no variation: every issue has the same value")
    from scipy import stats  # here, not at the top: ~1 s to import, and every run process loads this module

    r, p = stats.pointbiserialr(pairs["y"].to_numpy(dtype=float), pairs["x"].to_numpy(dtype=float))
    low, high = fisher_interval(float(r), n)
    x = pairs["x"].to_numpy(dtype=float)
    y = pairs["y"].to_numpy(dtype=bool)
    u = stats.mannwhitneyu(x[y], x[~y], alternative="two-sided").statistic
    auc = float(u) / (positives * (n - positives))
    return Association(name, target, n, positives, round(float(r), 4), float(p), low, high, round(auc, 4))


def fisher_interval(r: float, n: int) -> tuple[float | None, float | None]:
    """The 95 % confidence interval of a correlation by Fisher's z (needs n > 3)."""
    if n <= 3:
        return None, None
    z = math.atanh(float(np.clip(r, -0.999999, 0.999999)))
    half = Z_95 / math.sqrt(n - 3)
    return round(math.tanh(z - half), 4), round(math.tanh(z + half), 4)


def quality_signals(ledger: Ledger, min_sample: int) -> pd.DataFrame:
    """Every automated component against every human signal, with COLUMNS."""
    frame = issue_signals(ledger)
    rows = [
        asdict(associate(frame[component], frame[signal], min_sample)) for component in AUTOMATED for signal in HUMAN
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
