"""What each model achieved per task, from the ledger only: the `model_scorecard` asset's figures and the evidence
the selection policy weighs.

Per (model, task): for coding the agent runs (`run.finished`, the model from `run.started` when the run ended in
an error), their completion rate, cost and duration; for the other tasks (triage, review, model_selection) the
model calls (`llm.call`, and `llm.error` as failures), their cost and latency. Quality, for every task, is the mean
of the latest quality score of the issues on which the model did that task. The sums are the database's (a few
GROUP BYs); only the join of issues to their scores is pandas'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..agent.outcome import RunOutcome
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..ledger.store import events_table
from ..llm.gateway import ModelNotAllowed

CODING = "coding"
PURPOSE_TASK = {"agent": CODING}  # an `llm.call`'s purpose names its task, but for the coding agent's turns
COLUMNS = [
    "model",
    "task",
    "n",
    "calls",
    "errors",
    "success_rate",
    "mean_cost_usd",
    "mean_duration_s",
    "quality_n",
    "mean_quality",
]


@dataclass(frozen=True)
class ModelRecord:
    """One model's record on one task."""

    model: str
    task: str
    n: int  # coding: runs; other tasks: calls made or failed
    calls: int  # model calls recorded (`llm.call`)
    errors: int  # failed model calls (`llm.error`; a call refused as not allowed was never made)
    success_rate: float | None  # coding: completed runs; other tasks: calls that answered
    mean_cost_usd: float | None
    mean_duration_s: float | None  # coding: a run; other tasks: a call's latency
    quality_n: int  # scored issues on which the model did this task
    mean_quality: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def task_of(purpose: str) -> str:
    return PURPOSE_TASK.get(purpose, purpose)


def _field(name: str) -> Any:
    return events_table.c.data[name]


def _rounded(value: Any, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def _purposes(tasks: set[str] | None) -> Any:
    """The condition on an `llm.call`'s purpose that keeps the calls of these tasks (all when None)."""
    if tasks is None:
        return sa.true()
    purposes = [purpose for purpose, task in PURPOSE_TASK.items() if task in tasks] + sorted(tasks)
    return _field("purpose").as_string().in_(purposes)


def _call_rows(conn: sa.Connection, tasks: set[str] | None) -> dict[tuple[str, str], tuple[int, Any, Any]]:
    """(model, purpose) → calls, mean cost, mean latency in seconds."""
    model, purpose = _field("model").as_string(), _field("purpose").as_string()
    query = (
        sa.select(
            model,
            purpose,
            sa.func.count(),
            sa.func.avg(_field("cost_usd").as_float()),
            sa.func.avg(_field("latency_ms").as_float()),
        )
        .where(events_table.c.kind == Kind.LLM_CALL, _purposes(tasks))
        .group_by(model, purpose)
    )
    return {
        (str(m), str(p)): (int(n), cost, None if latency is None else float(latency) / 1000)
        for m, p, n, cost, latency in conn.execute(query)
    }


def _error_rows(conn: sa.Connection, tasks: set[str] | None) -> dict[tuple[str, str], int]:
    model, purpose = _field("model").as_string(), _field("purpose").as_string()
    query = (
        sa.select(model, purpose, sa.func.count())
        .where(
            events_table.c.kind == Kind.LLM_ERROR,
            _purposes(tasks),
            sa.func.coalesce(_field("error_type").as_string(), "") != ModelNotAllowed.__name__,
        )
        .group_by(model, purpose)
    )
    return {(str(m), str(p)): int(n) for m, p, n in conn.execute(query)}


def _runs(conn: sa.Connection) -> pd.DataFrame:
    """Each finished run: its issue, model (as started when its end does not say), outcome, cost and duration.

    One GROUP BY run_id over both kinds, read once, rather than a join: SQLite joined the two JSON-keyed
    subqueries by nested loops (2,000 runs took 9 s)."""
    kind = events_table.c.kind

    def of(which: Kind, value: Any) -> Any:
        return sa.func.max(sa.case((kind == which, value)))

    finished = sa.func.sum(sa.case((kind == Kind.RUN_FINISHED, 1), else_=0))
    query = (
        sa.select(
            sa.func.max(events_table.c.stream),
            sa.func.coalesce(
                of(Kind.RUN_FINISHED, _field("model").as_string()),
                of(Kind.RUN_STARTED, _field("model").as_string()),
                "unknown",
            ),
            of(Kind.RUN_FINISHED, _field("outcome").as_string()),
            of(Kind.RUN_FINISHED, _field("cost_usd").as_float()),
            of(Kind.RUN_FINISHED, _field("duration_s").as_float()),
        )
        .where(kind.in_([Kind.RUN_STARTED, Kind.RUN_FINISHED]))
        .group_by(_field("run_id").as_string())
        .having(finished > 0)
    )
    columns = ["stream", "model", "outcome", "cost_usd", "duration_s"]
    return pd.DataFrame(conn.execute(query).all(), columns=columns).astype({"cost_usd": float, "duration_s": float})


def _run_rows(runs: pd.DataFrame) -> dict[str, tuple[int, int, Any, Any]]:
    """model → runs, completed runs, mean cost, mean duration."""
    grouped = runs.assign(done=runs["outcome"] == str(RunOutcome.COMPLETED)).groupby("model")
    table = grouped.agg(
        n=("done", "size"), done=("done", "sum"), cost=("cost_usd", "mean"), duration=("duration_s", "mean")
    )
    return {
        str(model): (
            int(r.n),
            int(r.done),
            None if pd.isna(r.cost) else r.cost,
            None if pd.isna(r.duration) else r.duration,
        )
        for model, r in table.iterrows()
    }


def _quality_rows(
    conn: sa.Connection, runs: pd.DataFrame, tasks: set[str] | None
) -> dict[tuple[str, str], tuple[int, float]]:
    """(model, task) → scored issues, mean latest score of those issues.

    The database gives who did what on which issue, and each issue's latest score; pandas joins them. Joined in
    SQL, SQLite's planner looked each issue's score up through the `kind` index, not the stream's: 2,000 runs
    took 4 s."""
    purpose = _field("purpose").as_string()
    calls = (
        sa.select(events_table.c.stream, _field("model").as_string(), purpose)
        .where(events_table.c.kind == Kind.LLM_CALL, purpose != "agent", _purposes(tasks))
        .distinct()
    )
    latest = (
        sa.select(sa.func.max(events_table.c.seq).label("seq"))
        .where(events_table.c.kind == Kind.QUALITY_SCORED)
        .group_by(events_table.c.stream)
        .subquery("latest")
    )
    scores = sa.select(events_table.c.stream, _field("score").as_float()).join(
        latest, events_table.c.seq == latest.c.seq
    )
    who = pd.concat(
        [
            runs[["stream", "model"]].assign(task=CODING),
            pd.DataFrame(conn.execute(calls).all(), columns=["stream", "model", "task"]),
        ]
    ).drop_duplicates()
    scored = pd.DataFrame(conn.execute(scores).all(), columns=["stream", "score"]).dropna()
    grouped = who.merge(scored, on="stream").groupby(["model", "task"])["score"].agg(["count", "mean"])
    return {(str(m), str(t)): (int(n), float(mean)) for (m, t), (n, mean) in grouped.iterrows()}


def model_records(ledger: Ledger, tasks: Iterable[str] | None = None) -> list[ModelRecord]:
    """Every (model, task) the ledger has seen, sorted; only the given tasks when named (and only their events
    are read)."""
    wanted = set(tasks) if tasks is not None else None
    with ledger.engine.connect() as conn:
        calls, errors = _call_rows(conn, wanted), _error_rows(conn, wanted)
        runs = _runs(conn) if wanted is None or CODING in wanted else pd.DataFrame(columns=["stream", "model"])
        coding, quality = _run_rows(runs) if len(runs) else {}, _quality_rows(conn, runs, wanted)
    by_task: dict[tuple[str, str], dict[str, Any]] = {}
    for model, purpose in {*calls, *errors}:
        made, cost, latency = calls.get((model, purpose), (0, None, None))
        failed = errors.get((model, purpose), 0)
        row = by_task.setdefault((model, task_of(purpose)), {"calls": 0, "errors": 0})
        row["calls"] += made
        row["errors"] += failed
        if task_of(purpose) != CODING:
            row.update(n=made + failed, success=made, cost=cost, duration=latency)
    for model, (n, done, cost, duration) in coding.items():
        by_task.setdefault((model, CODING), {"calls": 0, "errors": 0}).update(
            n=n, success=done, cost=cost, duration=duration
        )
    records = []
    for (model, task), row in sorted(by_task.items()):
        if wanted is not None and task not in wanted:
            continue
        n = int(row.get("n", 0))
        scored, mean_quality = quality.get((model, task), (0, None))
        records.append(
            ModelRecord(
                model=model,
                task=task,
                n=n,
                calls=row["calls"],
                errors=row["errors"],
                success_rate=round(row["success"] / n, 4) if n else None,
                mean_cost_usd=_rounded(row.get("cost")),
                mean_duration_s=_rounded(row.get("duration"), 3),
                quality_n=scored,
                mean_quality=_rounded(mean_quality, 4),
            )
        )
    return records


def scorecard_frame(records: list[ModelRecord]) -> pd.DataFrame:
    return pd.DataFrame([r.as_dict() for r in records], columns=COLUMNS)
