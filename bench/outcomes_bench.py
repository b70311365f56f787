"""Outcomes: `llm_costs` for one day with 10k / 100k / 1M `llm.call` events (SQLite and PostgreSQL), a one-year
costs backfill, and a `quality_score` backfill of 1,000 partitions. Baselines: one SQL GROUP BY in the database,
and the pure scoring function without Dagster."""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.common import row
from paid_dagster.config import ScoreWeights
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.store import events_table
from paid_dagster.outcomes.costs import daily_costs
from paid_dagster.outcomes.scoring import SCORE_KINDS, score_events

SIZES = [int(x) for x in os.environ.get("BENCH_COST_EVENTS", "10000,100000,1000000").split(",")]
DAY = date(2026, 6, 15)


def fill(ledger: Ledger, count: int, start: datetime, span: timedelta) -> None:
    rng = random.Random(7)
    batch = []
    for i in range(count):
        batch.append(
            {
                "stream": f"org-{i % 5}__repo-{i % 3}__{i % 400}",
                "kind": "llm.call",
                "at": start + span * rng.random(),
                "data": {
                    "model": ("m-a", "m-b")[i % 2],
                    "tokens_in": 1000,
                    "tokens_out": 100,
                    "tokens_cached": 0,
                    "cost_usd": 0.0042,
                },
            }
        )
        if len(batch) == 20_000:
            ledger.append_many(batch)
            batch = []
    ledger.append_many(batch)


def sql_group_by(ledger: Ledger, day: date) -> int:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    cost = (
        sa.cast(events_table.c.data["cost_usd"].as_string(), sa.Float)
        if ledger.engine.dialect.name == "postgresql"
        else sa.func.json_extract(events_table.c.data, "$.cost_usd")
    )
    query = (
        sa.select(events_table.c.stream, sa.func.count(), sa.func.sum(cost))
        .where(
            events_table.c.kind == "llm.call", events_table.c.at >= start, events_table.c.at < start + timedelta(days=1)
        )
        .group_by(events_table.c.stream)
    )
    with ledger.engine.connect() as conn:
        return len(conn.execute(query).all())


def fresh(url: str) -> Ledger:
    ledger = Ledger(url)
    with ledger.engine.begin() as conn:
        conn.execute(events_table.delete())
    return ledger


def costs_day(urls: dict[str, str]) -> None:
    print("llm_costs for one day")
    for name, url in urls.items():
        ledger = fresh(url)
        loaded = 0
        for size in SIZES:
            fill(ledger, size - loaded, datetime(2026, 6, 15, tzinfo=UTC), timedelta(days=1))
            loaded = size
            started = time.perf_counter()
            frame = daily_costs(ledger, DAY)
            ours = time.perf_counter() - started
            started = time.perf_counter()
            sql_group_by(ledger, DAY)
            base = time.perf_counter() - started
            assert int(frame["calls"].sum()) == size
            row(f"{name}: {size:>9,} events, baseline SQL GROUP BY", base, "s")
            row(
                f"{name}: {size:>9,} events, llm_costs (GROUP BY day, stream, model + pandas)",
                ours,
                "s",
                base,
                higher_is_better=False,
            )


def year_backfill(url: str) -> None:
    from dagster import instance_for_test

    os.environ["PAID_LEDGER_URL"] = url
    ledger = fresh(url)
    fill(ledger, 100_000, datetime(2025, 1, 1, tzinfo=UTC), timedelta(days=365))
    from paid_dagster.definitions import defs

    with tempfile.TemporaryDirectory() as home, instance_for_test(temp_dir=home) as instance:
        job = defs.resolve_job_def("paid_costs")
        tags = {"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": "2025-12-31"}
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        elapsed = time.perf_counter() - started
        assert result.is_node_success("llm_costs")
    started = time.perf_counter()
    for i in range(365):
        sql_group_by(ledger, date(2025, 1, 1) + timedelta(days=i))
    base = time.perf_counter() - started
    row("one-year costs backfill, baseline: 365 SQL GROUP BYs", base, "s")
    row(
        "one-year costs backfill (single run, 100k events, checks included)", elapsed, "s", base, higher_is_better=False
    )


def score_backfill(url: str) -> None:
    from dagster import instance_for_test

    os.environ["PAID_LEDGER_URL"] = url
    ledger = fresh(url)
    keys = [f"octo-org__shopcart__{i}" for i in range(1, 1001)]
    rows = []
    for i, key in enumerate(keys):
        rows += [
            {"stream": key, "kind": "run.finished", "data": {"outcome": "completed"}},
            {"stream": key, "kind": "pr.observed", "data": {"state": "closed", "merged": i % 2 == 0, "ci": "success"}},
        ]
    ledger.append_many(rows)
    started = time.perf_counter()
    for key in keys:
        score_events(ledger.read(stream=key, kinds=SCORE_KINDS), ScoreWeights())
    base = time.perf_counter() - started
    from paid_dagster.definitions import defs

    config = Path(tempfile.mkdtemp()) / "paid.yaml"
    config.write_text("repositories: [octo-org/shopcart]\n")
    os.environ["PAID_CONFIG"] = str(config)
    with tempfile.TemporaryDirectory() as home, instance_for_test(temp_dir=home) as instance:
        instance.add_dynamic_partitions("paid_issues", keys)
        tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
        started = time.perf_counter()
        result = defs.resolve_job_def("paid_score").execute_in_process(
            instance=instance, tags=tags, raise_on_error=False
        )
        elapsed = time.perf_counter() - started
        assert result.is_node_success("quality_score")
    row("quality_score for 1,000 issues, baseline: the scoring function alone", base, "s")
    row(
        "quality_score backfill of 1,000 partitions (single run, checks included)",
        elapsed,
        "s",
        base,
        higher_is_better=False,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        urls = {"sqlite": f"sqlite:///{tmp}/bench.sqlite3"}
        pg = os.environ.get("PAID_TEST_POSTGRES_URL")
        if pg:
            urls["postgres"] = pg.replace("postgresql://", "postgresql+psycopg2://", 1)
        else:
            print("  (PostgreSQL figures need PAID_TEST_POSTGRES_URL: `make bench` starts PostgreSQL and sets it)")
        costs_day(urls)
        year_backfill(urls["sqlite"])
        score_backfill(urls["sqlite"])


if __name__ == "__main__":
    main()
