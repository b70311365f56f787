"""The label sensor: a trusted person's trigger label on an issue becomes one run of the build job."""

import json
import os
from datetime import UTC, datetime

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ..assets.partitions import paid_issues
from ..config import ConfigError, RepoSettings
from ..github.client import GitHubClient, GitHubError
from ..github.effects import unlabel
from ..github.scan import RepoCursor, scan_repository
from ..jobs import paid_build_job
from ..keys import issue_key
from ..ledger import Ledger
from ..outcomes.budgets import Notifier, budget_status, record_budget
from ..outcomes.gates import gate_state, resume
from ..resources import GitHubResource, LedgerResource, SettingsResource
from ..run_tags import CAUSE, ISSUE, REPO


@sensor(
    name="paid_label_sensor",
    job=paid_build_job,
    minimum_interval_seconds=int(os.environ.get("PAID_SENSOR_INTERVAL", "30")),
    default_status=DefaultSensorStatus.STOPPED,
    description="Polls configured repositories (ETag + since) for issues labeled by a trusted person.",
)
def paid_label_sensor(
    context: SensorEvaluationContext,
    settings: SettingsResource,
    github: GitHubResource,
    ledger: LedgerResource,
) -> SensorResult | SkipReason:
    try:
        config = settings.load()
        client = github.client()
    except ConfigError as exc:
        context.log.error(f"paid.yaml: {exc}")
        return SkipReason(f"configuration problem: {exc} (run `paid doctor`)")
    events = ledger.ledger()
    cursor = json.loads(context.cursor) if context.cursor else {}
    run_requests, partitions, notes = [], [], []
    notifier = Notifier(config.notifier.kind, config.notifier.url)
    now = datetime.now(UTC)
    for repo in config.repositories:
        paused, why = gate_state(events, repo.name)
        if paused and resumed_by_label(client, events, repo, config.gates.resume_label):
            paused = False
        if paused:
            notes.append(f"{repo.name}: paused by its quality gate ({why}); `paid resume {repo.name}` lifts it")
            continue
        budget = budget_status(events, repo.name, repo.budget_daily_usd, repo.budget_monthly_usd, now)
        record_budget(events, repo.name, budget, notifier, now)
        if budget.level == "exceeded":
            notes.append(f"{repo.name}: skipped: {budget.reason}")
            continue
        outcome = scan_repository(
            client, repo, RepoCursor.from_json(cursor.get(repo.name)), events, config.first_tick_backlog
        )
        if outcome.error:
            context.log.error(f"{repo.name}: {outcome.error}")
            notes.append(f"{repo.name}: {outcome.error}")
            continue
        cursor[repo.name] = outcome.cursor.to_json()
        for note in outcome.ignored:
            context.log.info(f"{repo.name} {note}")
        for trigger in outcome.triggers:
            partitions.append(trigger.partition_key)
            run_requests.append(
                RunRequest(
                    run_key=trigger.run_key,
                    partition_key=trigger.partition_key,
                    tags={
                        REPO: trigger.repo,
                        ISSUE: str(trigger.number),
                        "paid/labeler": trigger.event.actor,
                        "paid/label_event_id": str(trigger.event.id),
                        CAUSE: trigger.cause,
                    },
                )
            )
    new_cursor = json.dumps(cursor, sort_keys=True)
    if not run_requests:
        reason = "; ".join(notes) if notes else "no new trigger labels"
        return SensorResult(skip_reason=reason, cursor=new_cursor)
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[paid_issues.build_add_request(sorted(set(partitions)))],
        cursor=new_cursor,
    )


def resumed_by_label(client: GitHubClient, events: Ledger, repo: RepoSettings, label: str) -> bool:
    """A trusted person's `resume_label` on any open issue lifts the project's pause (and the label is removed)."""
    try:
        poll = client.poll_labeled(repo.name, label, None, None)
        for issue in poll.issues:
            event = client.label_event(repo.name, issue["number"], label)
            if event and client.permission(repo.name, event.actor) in repo.trusted_permissions:
                resume(events, repo.name, f"{event.actor} (label {label!r} on #{issue['number']})")
                stream = issue_key(repo.name, issue["number"])
                unlabel(client, events, stream, repo.name, issue["number"], label, str(event.id))
                return True
    except GitHubError:
        return False
    return False
