"""Budgets per project: a warning (and a notification) at 80 %, a stop at 100 %."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests

from ..keys import idempotency_key
from ..learning.decisions import Decision, DecisionKind, decision_key, record_decision
from ..ledger import Ledger
from ..ledger.kinds import Kind

log = logging.getLogger(__name__)
WARN_AT = 0.8


@dataclass(frozen=True)
class BudgetStatus:
    level: str  # ok | warning | exceeded
    budget: str  # daily | monthly | ""
    spent_usd: float
    limit_usd: float
    reason: str


def period_starts(now: datetime) -> dict[str, datetime]:
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return {"daily": day, "monthly": day.replace(day=1)}


def budget_status(
    ledger: Ledger, project: str, daily_usd: float | None, monthly_usd: float | None, now: datetime | None = None
) -> BudgetStatus:
    now = now or datetime.now(UTC)
    worst = BudgetStatus("ok", "", 0.0, 0.0, "within budget")
    for name, limit in (("daily", daily_usd), ("monthly", monthly_usd)):
        if not limit:
            continue
        spent = ledger.project_spend(project, period_starts(now)[name], now + timedelta(seconds=1))
        if spent >= limit:
            return BudgetStatus(
                "exceeded",
                name,
                spent,
                limit,
                f"the {name} budget of ${limit:.2f} for {project} is spent (${spent:.4f})",
            )
        if spent >= WARN_AT * limit and worst.level == "ok":
            worst = BudgetStatus(
                "warning",
                name,
                spent,
                limit,
                f"{spent / limit:.0%} of the {name} budget of ${limit:.2f} for {project} is spent",
            )
    return worst


def spent_share(
    ledger: Ledger, project: str, daily_usd: float | None, monthly_usd: float | None, now: datetime | None = None
) -> tuple[float, str]:
    """The largest share of the project's budgets spent so far, and which budget that is (0 and "" with none)."""
    now = now or datetime.now(UTC)
    shares = [
        (ledger.project_spend(project, period_starts(now)[name], now + timedelta(seconds=1)) / limit, name)
        for name, limit in (("daily", daily_usd), ("monthly", monthly_usd))
        if limit
    ]
    return max(shares, default=(0.0, ""))


class Notifier:
    """Where budget and gate notices go: the log, or a webhook that receives the notice as JSON."""

    def __init__(self, kind: str = "log", url: str | None = None) -> None:
        self.kind = kind
        self.url = url

    def send(self, notice: dict[str, object]) -> None:
        if self.kind == "webhook" and self.url:
            try:
                requests.post(self.url, json=notice, timeout=10)
            except requests.RequestException as exc:
                log.error("notifier webhook %s failed: %s", self.url, exc)
        log.warning("paid notice: %s", json.dumps(notice, default=str))


def record_budget(ledger: Ledger, project: str, status: BudgetStatus, notifier: Notifier, now: datetime) -> None:
    """A warning or a stop becomes an event (once per period) and a notification."""
    if status.level == "ok":
        return
    period = period_starts(now)[status.budget].date().isoformat()
    kind = Kind.BUDGET_EXCEEDED if status.level == "exceeded" else Kind.BUDGET_WARNING
    event = ledger.append(
        f"project:{project}",
        kind,
        {
            "project": project,
            "budget": status.budget,
            "spent_usd": status.spent_usd,
            "limit_usd": status.limit_usd,
            "reason": status.reason,
        },
        idempotency_key=idempotency_key(kind, project, status.budget, period),
    )
    if event is not None:
        notifier.send({"kind": kind, **event.data})
    if status.level == "exceeded":
        stop = Decision(
            DecisionKind.BUDGET_STOP,
            "stop_dispatch",
            status.reason,
            ("dispatch", "stop_dispatch"),
            {"project": project, "budget": status.budget, "spent_usd": status.spent_usd, "limit_usd": status.limit_usd},
        )
        stream = f"project:{project}"
        record_decision(ledger, stream, stop, decision_key(DecisionKind.BUDGET_STOP, project, status.budget, period))
