"""The `experiments` evaluation over 100 k recorded runs (an experiment of two variants: assignments, runs with
costs, settled scores) on SQLite and PostgreSQL, beside the same per-variant figures computed by one SQL query;
and the seeded simulations of the tests (A/A false winners, power and sample size at d = 0.5) with their time.

`BENCH_EXPERIMENT_RUNS` sets the number of runs (100000)."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from typing import Any

import numpy as np
import sqlalchemy as sa

from bench.common import row
from paid_dagster.config import parse_config
from paid_dagster.learning.experiments import evaluate_all
from paid_dagster.learning.statistics import simulate
from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind
from paid_dagster.ledger.store import events_table

REPO = "bench-org/app"
EXPERIMENT = {
    "name": "bench",
    "kind": "prompt",
    "target": "task",
    "variants": [{"name": "a", "value": "aaaa"}, {"name": "b", "value": "bbbb"}],
}


def fill(ledger: Ledger, runs: int, seed: int = 1) -> None:
    """One run per issue, half the issues in each variant, a settled score (treatment +0.05) and a cost."""
    rng = np.random.default_rng(seed)
    variants = rng.random(runs) < 0.5
    scores = np.clip(rng.normal(0.5 + 0.05 * variants, 0.2), 0, 1)
    costs = rng.uniform(0.01, 0.3, runs)
    batch: list[dict[str, Any]] = []
    for n in range(runs):
        issue = f"bench-org__app__{n + 1}"
        variant = "b" if variants[n] else "a"
        batch += [
            {
                "stream": issue,
                "kind": Kind.EXPERIMENT_ASSIGNED,
                "data": {"experiment": "bench", "variant": variant, "kind": "prompt", "target": "task"},
            },
            {"stream": issue, "kind": Kind.RUN_FINISHED, "data": {"run_id": f"r{n}", "cost_usd": float(costs[n])}},
            {
                "stream": issue,
                "kind": Kind.QUALITY_SCORED,
                "data": {"score": float(scores[n]), "settled": True, "components": {"merged": float(scores[n] > 0.6)}},
            },
        ]
        if len(batch) >= 30000:
            ledger.append_many(batch)
            batch = []
    ledger.append_many(batch)


def one_query(ledger: Ledger) -> dict[str, tuple[int, float, float, int, float]]:
    """Per variant: settled n, mean score, merged share, runs, cost — one SQL statement over the ledger."""
    e, data = events_table, events_table.c.data
    assigned = (
        sa.select(e.c.stream, data["variant"].as_string().label("variant"))
        .where(e.c.kind == Kind.EXPERIMENT_ASSIGNED, data["experiment"].as_string() == "bench")
        .subquery()
    )
    runs = (
        sa.select(e.c.stream, sa.func.count().label("runs"), sa.func.sum(data["cost_usd"].as_float()).label("cost"))
        .where(e.c.kind == Kind.RUN_FINISHED)
        .group_by(e.c.stream)
        .subquery()
    )
    last = (
        sa.select(e.c.stream, sa.func.max(e.c.seq).label("seq"))
        .where(e.c.kind == Kind.QUALITY_SCORED, data["settled"].as_boolean())
        .group_by(e.c.stream)
        .subquery()
    )
    score = data["score"].as_float()
    merged = sa.case((data[("components", "merged")].as_float() >= 1.0, 1.0), else_=0.0)
    query = (
        sa.select(
            assigned.c.variant,
            sa.func.count(last.c.seq),
            sa.func.avg(score),
            sa.func.avg(merged),
            sa.func.coalesce(sa.func.sum(runs.c.runs), 0),
            sa.func.coalesce(sa.func.sum(runs.c.cost), 0.0),
        )
        .select_from(assigned)
        .outerjoin(runs, runs.c.stream == assigned.c.stream)
        .outerjoin(last, last.c.stream == assigned.c.stream)
        .outerjoin(e, e.c.seq == last.c.seq)
        .group_by(assigned.c.variant)
    )
    with ledger.engine.connect() as conn:
        return {r[0]: (int(r[1]), float(r[2]), float(r[3]), int(r[4]), float(r[5])) for r in conn.execute(query)}


def postgres_database(url: str) -> tuple[str, sa.Engine, str]:
    """A database of its own on the PostgreSQL server (other work on the server is left alone)."""
    server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"paid_bench_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    return server.url.set(database=name).render_as_string(hide_password=False), server, name


def evaluation(name: str, url: str, runs: int) -> None:
    ledger = Ledger(url)
    started = time.perf_counter()
    fill(ledger, runs)
    if ledger.engine.dialect.name == "postgresql":  # the planner's statistics, as autovacuum would gather them
        with ledger.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE paid_events"))
    loaded = time.perf_counter() - started
    config = parse_config({"experiments": [EXPERIMENT], "repositories": [REPO]})
    started = time.perf_counter()
    expected = one_query(ledger)
    base = time.perf_counter() - started
    started = time.perf_counter()
    (report,), _ = evaluate_all(config, ledger)
    ours = time.perf_counter() - started
    for figures in report.figures:
        n, mean, success, run_count, cost = expected[figures.variant]
        assert (figures.n, figures.runs) == (n, run_count), (figures, expected)
        assert abs((figures.mean_score or 0) - mean) < 1e-9 and abs((figures.success_rate or 0) - success) < 1e-9
        assert abs(figures.cost_usd - cost) < 1e-4 * max(cost, 1)
    row(f"{name}: {runs:,} runs loaded ({3 * runs:,} events)", loaded, "s")
    row(f"{name}: one SQL query (n, mean, success, runs, cost per variant)", base, "s")
    row(f"{name}: experiments evaluation (+ CI, Welch, mSPRT per outcome)", ours, "s", base, higher_is_better=False)
    ledger.engine.dispose()


def simulations() -> None:
    print("simulated experiments (1,000 each, seeded as in tests/learning/test_statistics.py)")
    started = time.perf_counter()
    null = simulate(0.0, 1000, 30, 200, 0.05, 2026)
    power = simulate(0.5, 1000, 65, 200, 0.05, 2028)
    capped = simulate(0.5, 1000, 65, 65, 0.05, 2029)
    elapsed = time.perf_counter() - started
    row("A/A false winners, mSPRT after every outcome (≤ 200/arm)", 100 * null.sequential_rate, "%")
    row("A/A false winners, Welch at the horizon (30/arm)", 100 * null.fixed_rate, "%")
    row("d = 0.5 power, Welch at 65/arm", 100 * power.fixed_rate, "%")
    row("d = 0.5 power, mSPRT (≤ 200/arm)", 100 * power.sequential_rate, "%")
    row("d = 0.5 mean outcomes per arm when the mSPRT stopped (≤ 200/arm)", power.sequential_mean_n, "n")
    row("d = 0.5 power, mSPRT (≤ 65/arm)", 100 * capped.sequential_rate, "%")
    row("d = 0.5 mean outcomes per arm when the mSPRT stopped (≤ 65/arm)", capped.sequential_mean_n, "n")
    row("time for the three simulations (3,000 experiments, up to 400 outcomes each)", elapsed, "s")


def main() -> None:
    runs = int(os.environ.get("BENCH_EXPERIMENT_RUNS", "100000"))
    print(f"experiments over {runs:,} recorded runs")
    with tempfile.TemporaryDirectory() as tmp:
        evaluation("sqlite", f"sqlite:///{tmp}/bench.sqlite3", runs)
    pg = os.environ.get("PAID_TEST_POSTGRES_URL")
    if pg:
        url, server, name = postgres_database(pg.replace("postgresql://", "postgresql+psycopg2://", 1))
        try:
            evaluation("postgres", url, runs)
        finally:
            with server.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    else:
        print("  (PostgreSQL figures need PAID_TEST_POSTGRES_URL: `make bench` starts PostgreSQL and sets it)")
    simulations()


if __name__ == "__main__":
    main()
