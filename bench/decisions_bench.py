"""Decisions: the `decisions` tables and the `quality_signals` over 100k recorded runs (about six decisions and one
score each) on SQLite and PostgreSQL. Baselines in the same run: the same `decisions` figures from one SQL query
in the database, and the signals from pandas and scipy directly on the rows read by one SELECT."""

from __future__ import annotations

import os
import random
import tempfile
import time

import pandas as pd
import sqlalchemy as sa
from scipy import stats

from bench.common import row
from paid_dagster.learning.decision_outcomes import decision_outcomes
from paid_dagster.learning.signals import quality_signals
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.store import events_table

RUNS = int(os.environ.get("BENCH_DECISION_RUNS", "100000"))
GOOD_AT, BAD_BELOW = 0.7, 0.3


def decision(kind: str, choice: str) -> dict[str, object]:
    return {"decision": kind, "choice": choice, "candidates": [choice], "rationale": "bench", "context": {}}


def fill(ledger: Ledger, runs: int) -> int:
    """One issue per run: trigger, triage, model, engine, sandbox; a retry in 3 of 10, a remediation in 2 of 10;
    then its score with components."""
    rng = random.Random(11)
    batch: list[dict[str, object]] = []
    written = 0
    for i in range(runs):
        stream = f"org-{i % 7}__repo-{i % 5}__{i}"
        clear = rng.random() < 0.85
        chosen = [
            ("trigger", "accepted"),
            ("triage", "clear" if clear else "needs_info"),
            ("model", ("m-a", "m-b")[i % 2]),
            ("engine", "mini-swe-agent"),
            ("sandbox", ("bubblewrap", "docker")[i % 3 == 0]),
        ]
        if rng.random() < 0.3:
            chosen.append(("retry", rng.choice(["retry", "give_up"])))
        if rng.random() < 0.2:
            chosen.append(("remediation", "remediate"))
        batch += [{"stream": stream, "kind": "decision.made", "data": decision(k, c)} for k, c in chosen]
        ci = float(rng.random() < 0.6)
        merged = ci if rng.random() < 0.75 else 1 - ci
        components = {"ci_first_try": ci, "lint_clean": float(rng.random() < 0.8), "iterations": 1.0}
        components |= {"merged": merged, "human_vote": rng.choice([0.0, 0.5, 1.0])}
        score = round(0.3 * merged + 0.2 * ci + 0.5 * rng.random(), 4) if clear else round(0.3 * rng.random(), 4)
        data = {
            "score": score,
            "settled": True,
            "components": components,
            **{f"c_{k}": v for k, v in components.items()},
        }
        batch.append({"stream": stream, "kind": "quality.scored", "data": data})
        if len(batch) >= 20_000:
            written += ledger.append_many(batch)
            batch = []
    return written + ledger.append_many(batch)


def field(ledger: Ledger, name: str) -> str:
    if ledger.engine.dialect.name == "postgresql":
        return f"(data->>'{name}')"
    return f"json_extract(data, '$.{name}')"


def one_sql_query(ledger: Ledger) -> pd.DataFrame:
    """The `decisions` table by one query in the database."""
    dec, cho = field(ledger, "decision"), field(ledger, "choice")
    score = f"CAST({field(ledger, 'score').replace('data', 'e.data')} AS FLOAT)"
    query = f"""
    WITH d AS (SELECT seq, stream, {dec} AS decision, {cho} AS choice FROM paid_events WHERE kind = 'decision.made'),
    l AS MATERIALIZED (SELECT e.stream, e.seq AS score_seq, {score} AS score FROM paid_events e
          JOIN (SELECT MAX(seq) AS seq FROM paid_events WHERE kind = 'quality.scored' GROUP BY stream) m
          ON m.seq = e.seq),
    p AS (SELECT DISTINCT d.stream, d.decision, d.choice, l.score FROM d JOIN l ON l.stream = d.stream
          AND d.seq < l.score_seq),
    c AS (SELECT decision, choice, COUNT(*) AS decisions, COUNT(DISTINCT stream) AS streams FROM d
          GROUP BY decision, choice),
    o AS (SELECT decision, choice, COUNT(*) AS scored_issues, AVG(score) AS mean_score,
                 AVG(CASE WHEN score >= {GOOD_AT} THEN 1.0 ELSE 0.0 END) AS good_share,
                 AVG(CASE WHEN score < {BAD_BELOW} THEN 1.0 ELSE 0.0 END) AS bad_share
          FROM p GROUP BY decision, choice)
    SELECT c.decision, c.choice, c.decisions, c.streams, COALESCE(o.scored_issues, 0) AS scored_issues,
           o.mean_score, o.good_share, o.bad_share
    FROM c LEFT JOIN o ON o.decision = c.decision AND o.choice = c.choice ORDER BY c.decision, c.choice
    """
    with ledger.engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn)


def pandas_signals(ledger: Ledger) -> dict[str, float]:
    """The settled issues' CI-first-try and lint correlations with merged, straight from one SELECT."""
    query = sa.select(events_table.c.data).where(events_table.c.kind == "quality.scored")
    with ledger.engine.connect() as conn:
        frame = pd.json_normalize([r[0] for r in conn.execute(query)])
    return {c: float(stats.pointbiserialr(frame["c_merged"], frame[c])[0]) for c in ("c_ci_first_try", "c_lint_clean")}


def same_figures(ours: pd.DataFrame, base: pd.DataFrame) -> None:
    assert list(ours["decision"]) == list(base["decision"]) and list(ours["choice"]) == list(base["choice"])
    for column in ("decisions", "streams", "scored_issues"):
        assert list(ours[column].astype(int)) == list(base[column].astype(int)), column
    for column in ("mean_score", "good_share", "bad_share"):
        assert ((ours[column] - base[column].astype(float)).abs() < 1e-4).all(), column


def fresh(url: str) -> Ledger:
    ledger = Ledger(url)
    with ledger.engine.begin() as conn:
        conn.execute(events_table.delete())
    return ledger


def bench(name: str, url: str) -> None:
    ledger = fresh(url)
    started = time.perf_counter()
    events = fill(ledger, RUNS)
    row(f"{name}: {RUNS:,} runs recorded ({events:,} events)", time.perf_counter() - started, "s")
    started = time.perf_counter()
    base = one_sql_query(ledger)
    base_s = time.perf_counter() - started
    started = time.perf_counter()
    tables = decision_outcomes(ledger, GOOD_AT, BAD_BELOW)
    ours_s = time.perf_counter() - started
    same_figures(tables.by_choice, base)
    row(f"{name}: decisions, baseline: one SQL query", base_s, "s")
    row(f"{name}: decisions (fields extracted by SQL, folded in pandas)", ours_s, "s", base_s, higher_is_better=False)
    started = time.perf_counter()
    direct = pandas_signals(ledger)
    base_s = time.perf_counter() - started
    started = time.perf_counter()
    signals = quality_signals(ledger, 20)
    ours_s = time.perf_counter() - started
    ci = signals[(signals["component"] == "ci_first_try") & (signals["signal"] == "merged")].iloc[0]
    assert abs(float(ci["r"]) - direct["c_ci_first_try"]) < 1e-3
    row(f"{name}: quality_signals, baseline: pandas + scipy on one SELECT", base_s, "s")
    row(f"{name}: quality_signals (8 pairs, r, p, CI, AUC)", ours_s, "s", base_s, higher_is_better=False)


def own_schema(url: str, schema: str = "paid_bench_decisions") -> str:
    """The URL with a schema of the bench's own first on the search path: the test PostgreSQL is shared with
    test runs that drop and refill `public` meanwhile."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    engine.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def main() -> None:
    print(f"decisions and quality_signals over {RUNS:,} recorded runs")
    with tempfile.TemporaryDirectory() as tmp:
        urls = {"sqlite": f"sqlite:///{tmp}/bench.sqlite3"}
        pg = os.environ.get("PAID_TEST_POSTGRES_URL")
        if pg:
            urls["postgres"] = own_schema(pg.replace("postgresql://", "postgresql+psycopg2://", 1))
        else:
            print("  (PostgreSQL figures need PAID_TEST_POSTGRES_URL: `make bench` starts PostgreSQL and sets it)")
        for name, url in urls.items():
            bench(name, url)


if __name__ == "__main__":
    main()
