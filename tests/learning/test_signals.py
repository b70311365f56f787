"""The quality signals on synthetic histories with a known association: the estimate recovers it, finds none where
there is none, and says "not enough data" under the minimum sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paid_dagster.learning.signals import AUTOMATED, HUMAN, quality_signals
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind

N = 600
AGREE = 0.8  # merged agrees with CI-first-try for 80 % of the issues


def synthetic_history(ledger: Ledger, n: int, seed: int = 7) -> pd.DataFrame:
    """`n` scored issues: CI first try is a fair coin and merged agrees with it 80 % of the time (so the true
    correlation is 2·0.8 − 1 = 0.6 and the AUC 0.8); lint and the votes are independent coins; the review's
    findings are fewer on the merged issues; half of the issues are still open (merged unknown)."""
    rng = np.random.default_rng(seed)
    ci = rng.integers(0, 2, n).astype(float)
    merged = np.where(rng.random(n) < AGREE, ci, 1 - ci)
    settled = rng.random(n) < 0.5
    lint = rng.integers(0, 2, n).astype(float)
    vote = rng.choice([0.0, 0.5, 1.0], n)
    findings = rng.poisson(np.where(merged == 1, 1.0, 3.0))
    rows = []
    for i in range(n):
        stream = f"octo__shop__{i + 1}"
        components = {
            "merged": merged[i],
            "ci_first_try": ci[i],
            "human_vote": vote[i],
            "iterations": 1.0,
            "lint_clean": lint[i],
        }
        data = {"score": 0.5, "settled": bool(settled[i]), "components": components}
        data.update({f"c_{k}": v for k, v in components.items()})
        rows.append({"stream": stream, "kind": Kind.QUALITY_SCORED, "data": data})
        review = {"state": "reviewed", "findings": [{"message": "x"}] * int(findings[i]), "attempt": "r"}
        rows.append({"stream": stream, "kind": Kind.REVIEW_FINISHED, "data": review})
    ledger.append_many(rows)
    return pd.DataFrame({"settled": settled, "vote": vote})


def pair(table: pd.DataFrame, component: str, signal: str) -> dict[str, object]:
    return table[(table["component"] == component) & (table["signal"] == signal)].iloc[0].to_dict()


def test_a_known_association_is_recovered_and_an_absent_one_is_not_found(ledger: Ledger) -> None:
    truth = synthetic_history(ledger, N)
    table = quality_signals(ledger, min_sample=30)
    assert len(table) == len(AUTOMATED) * len(HUMAN)
    ci = pair(table, "ci_first_try", "merged")
    assert ci["n"] == int(truth["settled"].sum())  # the open issues have no verdict yet
    assert ci["ci_low"] < 0.6 < ci["ci_high"] and ci["r"] == pytest.approx(0.6, abs=0.1)
    assert ci["p_value"] < 1e-10 and ci["auc"] == pytest.approx(0.8, abs=0.05)
    lint = pair(table, "lint_clean", "merged")
    assert lint["ci_low"] < 0 < lint["ci_high"] and lint["p_value"] > 0.01 and abs(lint["auc"] - 0.5) < 0.08
    findings = pair(table, "review_findings", "merged")
    assert findings["r"] < -0.3 and findings["ci_high"] < 0 and findings["auc"] < 0.3  # fewer findings, merged
    voted = pair(table, "ci_first_try", "voted_up")
    assert voted["n"] == int((truth["vote"] != 0.5).sum())  # a neutral vote is no verdict
    assert voted["ci_low"] < 0 < voted["ci_high"]
    assert pair(table, "iterations", "merged")["note"].startswith("no variation")  # every issue took one run


def test_under_the_minimum_sample_no_figure_is_given(ledger: Ledger) -> None:
    synthetic_history(ledger, 20)
    table = quality_signals(ledger, min_sample=30)
    assert table["r"].isna().all() and table["auc"].isna().all()
    assert all(note.startswith("not enough data:") and "30 needed" in note for note in table["note"])
    assert (table["n"] < 30).all() and (table["n"] > 0).all()
