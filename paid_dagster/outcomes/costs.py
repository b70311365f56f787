"""Cost rollups from `llm.call` events: per day, project and model; spend to date, trend and projection."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from ..keys import parse_issue_key
from ..ledger import Ledger
from ..ledger.kinds import Kind

COLUMNS = ["day", "project", "model", "calls", "tokens_in", "tokens_out", "tokens_cached", "cost_usd"]


def project_of(stream: str) -> str | None:
    try:
        return parse_issue_key(stream)[0]
    except ValueError:
        return None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def calls_frame(ledger: Ledger, since: datetime, until: datetime) -> pd.DataFrame:
    rows = [
        {
            "at": e.at,
            "project": project_of(e.stream),
            "model": e.data.get("model"),
            "tokens_in": int(e.data.get("tokens_in") or 0),
            "tokens_out": int(e.data.get("tokens_out") or 0),
            "tokens_cached": int(e.data.get("tokens_cached") or 0),
            "cost_usd": float(e.data.get("cost_usd") or 0.0),
        }
        for e in ledger.iter(kinds=[Kind.LLM_CALL], since=since, until=until)
    ]
    columns = ["at", "project", "model", "tokens_in", "tokens_out", "tokens_cached", "cost_usd"]
    return pd.DataFrame(rows, columns=columns)


def costs_by_day(ledger: Ledger, first: date, last: date, through_seq: int | None = None) -> pd.DataFrame:
    """One row per (day, project, model) over [first, last], aggregated by the database, from the calls recorded
    up to `through_seq` when given. Missing projects or models stay missing: the data checks catch them."""
    rows = ledger.llm_call_totals(day_bounds(first)[0], day_bounds(last)[1], through_seq)
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.DataFrame(
        rows, columns=["day", "stream", "model", "calls", "tokens_in", "tokens_out", "tokens_cached", "cost_usd"]
    )
    frame["project"] = frame["stream"].map(project_of)
    for column in ("calls", "tokens_in", "tokens_out", "tokens_cached"):
        frame[column] = frame[column].astype("int64")
    frame["cost_usd"] = frame["cost_usd"].astype(float)
    grouped = frame.groupby(["day", "project", "model"], dropna=False, as_index=False)[
        ["calls", "tokens_in", "tokens_out", "tokens_cached", "cost_usd"]
    ].sum()
    return grouped[COLUMNS]


def daily_costs(ledger: Ledger, day: date) -> pd.DataFrame:
    return costs_by_day(ledger, day, day)


def hourly_costs(ledger: Ledger, day: date) -> list[float]:
    calls = calls_frame(ledger, *day_bounds(day))
    hours = [0.0] * 24
    for at, cost in zip(calls["at"], calls["cost_usd"], strict=True):
        hours[at.hour] += float(cost)
    return hours


def daily_totals(ledger: Ledger, first: date, last: date, through_seq: int | None = None) -> dict[str, float]:
    totals = {(first + timedelta(days=i)).isoformat(): 0.0 for i in range((last - first).days + 1)}
    for day, *_rest, cost in ledger.llm_call_totals(day_bounds(first)[0], day_bounds(last)[1], through_seq):
        totals[day] = totals.get(day, 0.0) + float(cost)
    return totals


def project_spend(ledger: Ledger, today: date) -> pd.DataFrame:
    """Per project: month to date, the last 7 days, and the month's end projected from the 7-day pace."""
    month_start = datetime(today.year, today.month, 1, tzinfo=UTC)
    week_start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=6)
    end = day_bounds(today)[1]
    calls = calls_frame(ledger, min(month_start, week_start), end)
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    rows = []
    for project, group in calls.groupby("project", dropna=False):
        mtd = float(group[group["at"] >= month_start]["cost_usd"].sum())
        week = group[group["at"] >= week_start]
        per_day = [
            float(
                week[
                    (week["at"] >= week_start + timedelta(days=i)) & (week["at"] < week_start + timedelta(days=i + 1))
                ]["cost_usd"].sum()
            )
            for i in range(7)
        ]
        pace = sum(per_day) / 7
        rows.append(
            {
                "project": project,
                "month_to_date_usd": round(mtd, 6),
                "last_7_days_usd": round(sum(per_day), 6),
                "daily_7d": per_day,
                "projected_month_usd": round(mtd + pace * (days_in_month - today.day), 6),
            }
        )
    return pd.DataFrame(
        rows, columns=["project", "month_to_date_usd", "last_7_days_usd", "daily_7d", "projected_month_usd"]
    )


BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    top = max(values) if values else 0
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(int(v / top * (len(BARS) - 1)), len(BARS) - 1)] for v in values)


def markdown_table(frame: pd.DataFrame, float_format: str = "{:.4f}") -> str:
    if frame.empty:
        return "_no rows_"
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns)
    lines = []
    for row in frame.itertuples(index=False):
        cells = [float_format.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return header + "\n" + "\n".join(lines)
