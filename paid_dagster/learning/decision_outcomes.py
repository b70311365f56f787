"""Which decisions preceded good and bad outcomes: `decision.made` events folded with each issue's latest
`quality.scored`.

A decision *preceded* a score when it was recorded on the issue's stream before the issue's latest score. Each
(issue, decision kind, choice) counts once towards the outcome columns, however often the choice was made on the
issue (two remediations are one issue that was remediated). Decisions on a project's stream (budget stops, gate
pauses) have no issue score: they appear in the counts only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..ledger import Ledger
from ..ledger.kinds import Kind

BY_CHOICE = [
    "decision",
    "choice",
    "decisions",  # times this choice was made
    "streams",  # issues (or projects) it was made on
    "scored_issues",  # issues where it preceded the latest score
    "mean_score",
    "good_share",  # of those issues, the share scoring at least `good_at`
    "bad_share",  # ... and under `bad_below`
]
BY_KIND = ["decision", "decisions", "streams", "choices", "most_common_choice"]


@dataclass(frozen=True)
class DecisionTables:
    by_choice: pd.DataFrame  # one row per (decision kind, choice), with BY_CHOICE's columns
    by_kind: pd.DataFrame  # one row per decision kind, with BY_KIND's columns


def decision_outcomes(ledger: Ledger, good_at: float, bad_below: float) -> DecisionTables:
    decisions = pd.DataFrame(
        ledger.fields([Kind.DECISION_MADE], texts=("decision", "choice")),
        columns=["seq", "stream", "kind", "decision", "choice"],
    )
    # Events written before decisions had a choice (`engine_and_model`) are counted, under an empty choice.
    decisions[["decision", "choice"]] = decisions[["decision", "choice"]].fillna("")
    scores = pd.DataFrame(
        ledger.fields([Kind.QUALITY_SCORED], numbers=("score",)), columns=["seq", "stream", "kind", "score"]
    )
    return DecisionTables(by_choice(decisions, latest_scores(scores), good_at, bad_below), by_kind(decisions))


def latest_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """stream → (score_seq, score) of each issue's latest scoring."""
    latest = scores.dropna(subset=["score"]).sort_values("seq").drop_duplicates("stream", keep="last")
    return latest.rename(columns={"seq": "score_seq"})[["stream", "score_seq", "score"]]


def by_choice(decisions: pd.DataFrame, latest: pd.DataFrame, good_at: float, bad_below: float) -> pd.DataFrame:
    if decisions.empty:
        return pd.DataFrame(columns=BY_CHOICE)
    keys = ["decision", "choice"]
    counts = decisions.groupby(keys).agg(decisions=("seq", "size"), streams=("stream", "nunique"))
    preceded = decisions.merge(latest, on="stream")
    preceded = preceded[preceded["seq"] < preceded["score_seq"]].drop_duplicates(["stream", *keys])
    preceded = preceded.assign(good=preceded["score"] >= good_at, bad=preceded["score"] < bad_below)
    outcome = preceded.groupby(keys).agg(
        scored_issues=("stream", "size"),
        mean_score=("score", "mean"),
        good_share=("good", "mean"),
        bad_share=("bad", "mean"),
    )
    table = counts.join(outcome, how="left").reset_index()
    table["scored_issues"] = table["scored_issues"].fillna(0).astype(int)
    for column in ("mean_score", "good_share", "bad_share"):
        table[column] = table[column].astype(float).round(4)
    return table.sort_values(keys).reset_index(drop=True)[BY_CHOICE]


def by_kind(decisions: pd.DataFrame) -> pd.DataFrame:
    if decisions.empty:
        return pd.DataFrame(columns=BY_KIND)
    grouped = decisions.groupby("decision")
    table = grouped.agg(
        decisions=("seq", "size"), streams=("stream", "nunique"), choices=("choice", "nunique")
    ).reset_index()
    commonest = grouped["choice"].agg(lambda c: c.value_counts().sort_index().idxmax())
    table["most_common_choice"] = table["decision"].map(commonest)
    return table.sort_values("decision").reset_index(drop=True)[BY_KIND]
