"""model_scorecard over 100 k recorded runs on SQLite and PostgreSQL. Baselines, in the same run and on the same
events: pandas directly (the events read into a DataFrame, then groupby and merge), and one SQL query for the
coding rows alone. The scorecard's figures are checked equal to pandas'."""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from bench.common import row
from paid_dagster.learning.scorecard import model_records, task_of
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.store import _ENGINES, events_table

RUNS = int(os.environ.get("BENCH_SCORECARD_RUNS", "100000"))
MODELS = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5", "openai/gpt-5-mini"]
KINDS = ["run.started", "run.finished", "llm.call", "llm.error", "quality.scored"]
DATABASE = "paid_scorecard_bench"  # a database of its own: tests elsewhere drop the shared one's tables


def history(runs: int) -> list[dict[str, Any]]:
    """Two runs per issue, an agent call per run, a triage and a review call per issue, one error in 50, and
    one or two quality scores per issue (the latest counts)."""
    rng = random.Random(11)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events: list[dict[str, Any]] = []
    for issue in range(runs // 2):
        stream = f"org-{issue % 7}__repo-{issue % 5}__{issue}"
        at = start + timedelta(minutes=issue)
        model = MODELS[issue % len(MODELS)]
        events.append(
            {
                "stream": stream,
                "kind": "llm.call",
                "at": at,
                "data": {"model": MODELS[0], "purpose": "triage", "cost_usd": 0.0004, "latency_ms": 900},
            }
        )
        for attempt in range(2):
            run_id = f"r{issue}-{attempt}"
            outcome = rng.choice(["completed", "completed", "completed", "turn_limit", "error"])
            events.append(
                {"stream": stream, "kind": "run.started", "at": at, "data": {"run_id": run_id, "model": model}}
            )
            events.append(
                {
                    "stream": stream,
                    "kind": "llm.call",
                    "at": at,
                    "data": {
                        "model": model,
                        "purpose": "agent",
                        "run_id": run_id,
                        "cost_usd": round(rng.uniform(0.001, 0.2), 6),
                        "latency_ms": rng.randint(300, 9000),
                    },
                }
            )
            finished = {
                "run_id": run_id,
                "outcome": outcome,
                "cost_usd": round(rng.uniform(0.01, 2.0), 6),
                "duration_s": rng.uniform(10, 900),
            }
            if outcome != "error":
                finished["model"] = model  # a run that ended in an error says no model: run.started does
            events.append({"stream": stream, "kind": "run.finished", "at": at, "data": finished})
        if issue % 50 == 0:
            events.append(
                {
                    "stream": stream,
                    "kind": "llm.error",
                    "at": at,
                    "data": {"model": MODELS[1], "purpose": "review", "error_type": "Timeout"},
                }
            )
        events.append(
            {
                "stream": stream,
                "kind": "llm.call",
                "at": at,
                "data": {"model": MODELS[1], "purpose": "review", "cost_usd": 0.01, "latency_ms": 4000},
            }
        )
        for _ in range(1 + issue % 2):
            events.append(
                {"stream": stream, "kind": "quality.scored", "at": at, "data": {"score": round(rng.random(), 4)}}
            )
    return events


def pandas_scorecard(ledger: Ledger) -> dict[tuple[str, str], tuple[int, float | None, int, float | None]]:
    """(model, task) → n, success rate, scored issues, mean quality: the events into pandas, then pandas alone."""
    query = sa.select(events_table.c.seq, events_table.c.stream, events_table.c.kind, events_table.c.data).where(
        events_table.c.kind.in_(KINDS)
    )
    with ledger.engine.connect() as conn:
        raw = pd.read_sql(query, conn)
    data = pd.json_normalize([d if isinstance(d, dict) else json.loads(d) for d in raw["data"]])
    frame = pd.concat([raw.drop(columns=["data"]), data], axis=1)
    started = frame[frame.kind == "run.started"][["run_id", "model"]].rename(columns={"model": "started_model"})
    runs = frame[frame.kind == "run.finished"].merge(started, on="run_id", how="left")
    runs["model"] = runs["model"].fillna(runs["started_model"]).fillna("unknown")
    runs["task"] = "coding"
    calls = frame[frame.kind == "llm.call"].assign(task=lambda f: f["purpose"].map(task_of))
    errors = frame[(frame.kind == "llm.error") & (frame.error_type != "ModelNotAllowed")]
    errors = errors.assign(task=errors["purpose"].map(task_of))
    latest = frame[frame.kind == "quality.scored"].sort_values("seq").groupby("stream").tail(1)[["stream", "score"]]
    touched = pd.concat([runs[["stream", "model", "task"]], calls[calls.task != "coding"][["stream", "model", "task"]]])
    quality = (
        touched.drop_duplicates().merge(latest, on="stream").groupby(["model", "task"])["score"].agg(["count", "mean"])
    )
    result: dict[tuple[str, str], tuple[int, float | None, int, float | None]] = {}
    for (model, task), group in runs.groupby(["model", "task"]):
        done = int((group["outcome"] == "completed").sum())
        result[(model, task)] = (len(group), round(done / len(group), 4), 0, None)
    made = calls[calls.task != "coding"].groupby(["model", "task"]).size()
    failed = errors[errors.task != "coding"].groupby(["model", "task"]).size()
    for key in made.index.union(failed.index):
        n = int(made.get(key, 0) + failed.get(key, 0))
        result[key] = (n, round(int(made.get(key, 0)) / n, 4), 0, None)
    for key, (count, mean) in quality.iterrows():
        n, success, _, _ = result[key]
        result[key] = (n, success, int(count), round(float(mean), 4))
    return result


def one_sql_query(ledger: Ledger) -> int:
    """The coding rows alone, as one GROUP BY on run.finished (no model from run.started, no quality)."""
    data = events_table.c.data
    model = data["model"].as_string()
    completed = sa.func.sum(sa.case((data["outcome"].as_string() == "completed", 1), else_=0))
    query = (
        sa.select(
            model,
            sa.func.count(),
            completed,
            sa.func.avg(data["cost_usd"].as_float()),
            sa.func.avg(data["duration_s"].as_float()),
        )
        .where(events_table.c.kind == "run.finished")
        .group_by(model)
    )
    with ledger.engine.connect() as conn:
        return len(conn.execute(query).all())


def asset_materialization(url: str) -> float:
    from dagster import materialize

    from paid_dagster.assets.scorecard import model_scorecard
    from paid_dagster.resources import LedgerResource
    from paid_dagster.resources.tables import TableIOManager

    started = time.perf_counter()
    result = materialize(
        [model_scorecard], resources={"ledger": LedgerResource(url=url), "tables": TableIOManager(url=url)}
    )
    assert result.success
    return time.perf_counter() - started


def own_database(server: str) -> str:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE}).first():
            conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{DATABASE}"


def load(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    """Straight into the ledger's table: `append_many` masks secrets in every payload, which these events have
    none of, and that would make loading take minutes while the measure is the reading."""
    with ledger.engine.begin() as conn:
        for start in range(0, len(events), 20_000):
            conn.execute(
                events_table.insert(), [{**e, "idempotency_key": None} for e in events[start : start + 20_000]]
            )


def measure(name: str, url: str, events: list[dict[str, Any]]) -> None:
    ledger = Ledger(url)
    with ledger.engine.begin() as conn:
        conn.execute(events_table.delete())
    load(ledger, events)
    started = time.perf_counter()
    records = model_records(ledger)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    expected = pandas_scorecard(ledger)
    by_pandas = time.perf_counter() - started
    started = time.perf_counter()
    one_sql_query(ledger)
    by_sql = time.perf_counter() - started
    figures = {(r.model, r.task): (r.n, r.success_rate, r.quality_n, r.mean_quality) for r in records}
    assert figures == expected, (figures, expected)
    assert sum(r.n for r in records if r.task == "coding") == RUNS
    materialized = asset_materialization(url)
    label = f"{name}: {RUNS:,} runs ({len(events):,} events)"
    row(f"{label}, baseline: one SQL GROUP BY (coding only)", by_sql, "s")
    row(f"{label}, baseline: pandas directly (all figures)", by_pandas, "s")
    row(f"{label}, model_records (all figures)", ours, "s", by_pandas, higher_is_better=False)
    row(f"{label}, model_scorecard asset (materialize + table)", materialized, "s", by_pandas, higher_is_better=False)


def main() -> None:
    print("model_scorecard")
    events = history(RUNS)
    with tempfile.TemporaryDirectory() as tmp:
        urls = {"sqlite": f"sqlite:///{tmp}/scorecard.sqlite3"}
        pg = os.environ.get("PAID_TEST_POSTGRES_URL")
        if pg:
            urls["postgres"] = own_database(pg.replace("postgresql://", "postgresql+psycopg2://", 1))
        else:
            print("  (PostgreSQL figures need PAID_TEST_POSTGRES_URL: `make bench` starts PostgreSQL and sets it)")
        for name, url in urls.items():
            measure(name, url, events)
            _ENGINES.pop(url).dispose()


if __name__ == "__main__":
    main()
