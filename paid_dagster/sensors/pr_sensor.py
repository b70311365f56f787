"""The PR sensor: follows Paid's pull requests (state, CI, reviews, votes, `/paid retry`) with ETags, records
what changed, and asks for a re-score, a retry or a follow-up run."""

import json
import os

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from ..config import ConfigError
from ..github.client import GitHubError
from ..github.follow import follow_pull, open_paid_pulls, record_blocked_follow_up
from ..jobs import paid_build_job, paid_score_job
from ..outcomes.budgets import budget_status
from ..outcomes.gates import gate_state
from ..resources import GitHubResource, LedgerResource, SettingsResource
from ..run_tags import CAUSE, REPO


@sensor(
    name="paid_pr_sensor",
    jobs=[paid_score_job, paid_build_job],
    minimum_interval_seconds=int(os.environ.get("PAID_SENSOR_INTERVAL", "30")),
    default_status=DefaultSensorStatus.STOPPED,
    description="Follows Paid's pull requests; changes become events and a new quality_score materialization.",
)
def paid_pr_sensor(
    context: SensorEvaluationContext, settings: SettingsResource, github: GitHubResource, ledger: LedgerResource
) -> SensorResult:
    try:
        config = settings.load()
        client = github.client()
    except ConfigError as exc:
        return SensorResult(skip_reason=f"configuration problem: {exc} (run `paid doctor`)")
    events = ledger.ledger()
    cursor = json.loads(context.cursor) if context.cursor else {}
    etags: dict[str, dict[str, str]] = cursor.get("etags", {})
    trust: dict[tuple[str, str], bool] = {}
    paid_logins: set[str] = set()

    def is_paid(login: str) -> bool:
        """Paid's own identities (its token's and its review token's): their reviews are not people's."""
        if not paid_logins:
            paid_logins.update(github.identities())
        return login in paid_logins

    requests: list[RunRequest] = []
    notes: list[str] = []
    for key, (repo, number) in sorted(open_paid_pulls(events).items()):
        try:
            repo_settings = config.repository(repo)
        except KeyError:
            continue

        def is_trusted(
            login: str, repo: str = repo, trusted: tuple[str, ...] = repo_settings.trusted_permissions
        ) -> bool:
            if (repo, login) not in trust:
                trust[(repo, login)] = client.permission(repo, login) in trusted
            return trust[(repo, login)]

        try:
            outcome = follow_pull(
                client, events, repo_settings, key, number, etags.setdefault(key, {}), is_trusted, is_paid
            )
        except GitHubError as exc:
            notes.append(f"{repo}#{number}: {exc}")
            context.log.error(f"{repo}#{number}: {exc}")
            continue
        if outcome.settled:
            etags.pop(key, None)
        if outcome.note:
            notes.append(f"{repo}#{number}: {outcome.note}")
        if outcome.score_run_key:
            requests.append(RunRequest(job_name="paid_score", run_key=outcome.score_run_key, partition_key=key))
        paused, why = gate_state(events, repo)
        budget = budget_status(events, repo, repo_settings.budget_daily_usd, repo_settings.budget_monthly_usd)
        blocked = why if paused else (budget.reason if budget.level == "exceeded" else "")
        new_work = [(k, "retry", "") for k in outcome.retry_run_keys]
        if outcome.follow_up:
            new_work.append(outcome.follow_up)
        for run_key, cause, _details in new_work:
            if blocked:
                notes.append(f"{repo}#{number}: no {cause} run: {blocked}")
                record_blocked_follow_up(events, key, run_key, cause, blocked)
                continue
            requests.append(
                RunRequest(
                    job_name="paid_build",
                    run_key=run_key,
                    partition_key=key,
                    tags={
                        REPO: repo,
                        CAUSE: "follow_up" if cause not in ("retry",) else "retry",
                        "paid/follow_up_reason": cause,
                    },
                )
            )
    new_cursor = json.dumps({"etags": etags}, sort_keys=True)
    if not requests:
        return SensorResult(skip_reason="; ".join(notes) or "no change on Paid's pull requests", cursor=new_cursor)
    return SensorResult(run_requests=requests, cursor=new_cursor)
