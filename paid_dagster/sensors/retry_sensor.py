"""Paid's retry policy as a sensor: failed attempts retried after a backoff, dead workers' runs recovered, and
after the last attempt one comment on the issue and `paid-failed`. Its skip reason says what Paid does next."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRecord,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from ..agent.outcome import RunOutcome
from ..agent.workspace import sweep_runs
from ..cancel import record_canceled
from ..config import ConfigError
from ..github.client import GitHubClient, GitHubError
from ..github.publish import comment_once, label_once, tell_canceled
from ..jobs import paid_build_job
from ..keys import KEY, idempotency_key, parse_issue_key
from ..ledger import Event, Ledger
from ..ledger.kinds import Kind
from ..resources import GitHubResource, LedgerResource, SettingsResource
from ..retries import (
    FAILED_LABEL,
    STAGES,
    Failure,
    RetryVerdict,
    decide,
    give_up_text,
    record_failure,
    record_gave_up,
    record_retry,
    record_verdict,
    undecided,
)
from ..run_tags import CANCELED_BY
from ..worker import Worker, gone

INTERVAL = int(os.environ.get("PAID_SENSOR_INTERVAL", "30"))
CANCELED_LOOKBACK = 50  # canceled runs looked at per tick, newest first
FAILED_LOOKBACK = 50  # failed runs looked at per tick, newest first, and only those that failed within a day:
FAILED_WINDOW = timedelta(days=1)  # older failures were settled before this check existed, or by a person
WORKER_TAGS = ("paid/worker_pid", "paid/worker_host", "paid/worker_started")


@sensor(
    name="paid_retry_sensor",
    job=paid_build_job,
    minimum_interval_seconds=INTERVAL,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Paid's retry policy: a paid_build run that failed for a transient reason (or whose worker died) gets a new"
        " attempt after a backoff, up to retries.max_attempts; then one comment on the issue and `paid-failed`."
    ),
)
def paid_retry_sensor(
    context: SensorEvaluationContext, settings: SettingsResource, github: GitHubResource, ledger: LedgerResource
) -> SensorResult:
    try:
        config = settings.load()
    except ConfigError as exc:
        return SensorResult(skip_reason=f"configuration problem: {exc} (run `paid doctor`)")
    events = ledger.ledger()
    notes = recover_crashed(context.instance, events)
    notes += recover_unrecorded_failures(context.instance, events)
    notes += record_cancellations(context.instance, events, github)
    swept = sweep_runs(Path(config.work_dir), config.work_retention_days)
    if swept:
        notes.append(f"removed {len(swept)} run director{'y' if len(swept) == 1 else 'ies'} left behind")
    now = datetime.now(UTC)  # after the recovery: a crash found now is due now when there is no backoff
    requests: list[RunRequest] = []
    for failed in undecided(events):
        superseded = retriggered_since(events, failed, launched_at(context.instance, failed))
        verdict = decide(config.retries, failed, now, superseded=superseded)
        note = verdict.note(config.retries, now)
        if verdict.action == "retry" and record_retry(events, verdict, config.retries):
            requests.append(retry_request(context.instance, verdict))
        elif verdict.action == "give_up":
            note = give_up(github.client(), events, verdict) or note
        record_verdict(events, verdict, config.retries)
        notes.append(note)
    for note in notes:
        context.log.info(note)
    if not requests:
        return SensorResult(skip_reason="; ".join(notes) or "no failed attempt to act on")
    return SensorResult(run_requests=requests)


def retry_request(instance: DagsterInstance, verdict: RetryVerdict) -> RunRequest:
    """The next attempt on the same partition: its number in the run key and tags; from `pull_request` when the
    agent's work is stored (the failure came after it), else from the start."""
    failed_run = instance.get_run_by_id(str(verdict.failed.data.get("dagster_run_id")))
    old = dict(failed_run.tags) if failed_run else {}
    tags = {k: v for k, v in old.items() if k.startswith("paid/") and k not in WORKER_TAGS}
    tags.update(
        {
            "paid/attempt": str(verdict.attempt + 1),
            "paid/retry_of": str(verdict.failed.data.get("dagster_run_id")),
            "paid/retry_reason": f"{verdict.failed.data.get('stage')}: {verdict.failed.data.get('error_type')}",
            "paid/resume_from": verdict.resume_from,
        }
    )
    resume = STAGES[STAGES.index(verdict.resume_from) :]
    return RunRequest(
        run_key=verdict.next_run_key,
        partition_key=verdict.key,
        tags=tags,
        asset_selection=[AssetKey(stage) for stage in resume] if verdict.resume_from != STAGES[0] else None,
    )


def give_up(client: GitHubClient, events: Ledger, verdict: RetryVerdict) -> str | None:
    """One comment that says what failed and how to retry, and `paid-failed`; recorded once both are on GitHub."""
    repo, number = parse_issue_key(verdict.key)
    ref = verdict.failed.data.get("dagster_run_id")
    try:
        comment_once(client, events, repo, number, "failed", ref, give_up_text(verdict))
        label_once(client, events, repo, number, FAILED_LABEL, "failed", ref)
    except GitHubError as exc:
        return f"{repo}#{number}: giving up, but telling the issue failed ({exc}); next tick tries again"
    record_gave_up(events, verdict)
    return None


def recover_crashed(instance: DagsterInstance, events: Ledger) -> list[str]:
    """STARTED paid_build runs whose worker is gone: marked failed in Dagster, `run.finished` (crashed) and a
    transient `run.failed` in the ledger, so that the retry policy gives them a new attempt."""
    notes = []
    for run in instance.get_runs(RunsFilter(job_name=paid_build_job.name, statuses=[DagsterRunStatus.STARTED])):
        worker = Worker.from_tags(dict(run.tags))
        if worker is None or not gone(worker):
            continue
        now = instance.get_run_by_id(run.run_id)
        if now is None or now.status != DagsterRunStatus.STARTED:
            continue  # terminated meanwhile: a canceled run's worker exits too, and that is no crash
        if stop_requested(instance, now):
            instance.report_run_canceled(now, "a person asked to stop this run, and its worker is gone")
            continue  # record_cancellations records and tells it; never retried
        message = f"the worker of this run (pid {worker.pid} on {worker.host}) is gone: killed or crashed mid-run"
        instance.report_run_failed(run, message)
        key = record_crashed(events, run, "WorkerCrashed", message)
        notes.append(f"{key}: run {run.run_id[:8]} crashed ({message}); handed to the retry policy")
    return notes


def recover_unrecorded_failures(instance: DagsterInstance, events: Ledger) -> list[str]:
    """paid_build runs that Dagster failed while no step of theirs could say why: run monitoring found the run's
    container dead (the Docker launcher can tell; the worker tags cannot, across hosts), or the run died before
    its first step. Recorded like a crashed worker (`run.finished` crashed, a transient `run.failed`) so that the
    retry policy gives the issue a new attempt or tells it; a run whose step recorded its failure is left alone."""
    notes = []
    since = datetime.now(UTC) - FAILED_WINDOW
    failed = RunsFilter(job_name=paid_build_job.name, statuses=[DagsterRunStatus.FAILURE], updated_after=since)
    for record in instance.get_run_records(failed, limit=FAILED_LOOKBACK):
        run = record.dagster_run
        key = run.tags.get("dagster/partition", "")
        if not KEY.match(key) or events.has(idempotency_key(Kind.RUN_FAILED, run.run_id)):
            continue
        if events.has(idempotency_key(Kind.RUN_FINISHED, RunOutcome.CANCELED, run.run_id)):
            continue
        if stop_requested(instance, run):
            continue  # a cancel that Dagster ended as a failure: record_cancellations takes it, never a retry
        message = f"the run ended without a word from its steps: {dagster_failure_message(instance, run.run_id)}"
        record_crashed(events, run, "WorkerLost", message)
        notes.append(f"{key}: run {run.run_id[:8]} failed unrecorded ({message[:200]}); handed to the retry policy")
    return notes


def record_crashed(events: Ledger, run: DagsterRun, error_type: str, message: str) -> str:
    """What a step would have written had its process lived, once each: `run.finished` (crashed) and a transient
    `run.failed` at stage `worker`, so that the retry policy acts on the run. Returns the issue's key."""
    key = run.tags.get("dagster/partition", "")
    events.append(
        key,
        Kind.RUN_FINISHED,
        {"run_id": run.run_id, "outcome": RunOutcome.CRASHED, "error": message, "dagster_run_id": run.run_id},
        idempotency_key=idempotency_key(Kind.RUN_FINISHED, RunOutcome.CRASHED, run.run_id),
    )
    attempt = int(run.tags.get("paid/attempt", "1"))
    failure = Failure("worker", True, error_type, message)
    record_failure(events, key, failure, run.run_id, attempt, run.tags.get("dagster/run_key", ""))
    return key


def dagster_failure_message(instance: DagsterInstance, run_id: str) -> str:
    """What Dagster said when it failed the run (run monitoring names the container's state)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
    messages = [r.event_log_entry.message for r in records if r.event_log_entry.message]
    return (messages[-1] if messages else "Dagster recorded no reason")[:1500]


def launched_at(instance: DagsterInstance, failed: Event) -> datetime:
    """When the failed attempt's Dagster run was made (its trigger was recorded before); the failure's time when
    the run is gone."""
    record = instance.get_run_record_by_id(str(failed.data.get("dagster_run_id")))
    return record.create_timestamp if record is not None else failed.at


def retriggered_since(events: Ledger, failed: Event, launched: datetime) -> bool:
    """A trusted person labeled the issue again (or its author replied) after the failed attempt was launched:
    that new trigger's run is the next attempt, and a retry beside it would be a second agent on the issue."""
    latest = events.last(failed.stream, Kind.ISSUE_LABELED)
    launched = launched.replace(tzinfo=UTC) if launched.tzinfo is None else launched  # Dagster's are naive UTC
    return latest is not None and latest.at > launched


def stop_requested(instance: DagsterInstance, run: DagsterRun) -> bool:
    """A person asked to stop the run (`paid stop` tags who; Terminate records Dagster's RUN_CANCELING), whatever
    status Dagster ended it with: a terminate that lands as the run starts can end FAILURE ("interrupted
    unexpectedly"), since the run's start event turns CANCELING back into STARTED."""
    if run.tags.get(CANCELED_BY):
        return True
    return bool(instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_CANCELING, limit=1).records)


def stopped_runs(instance: DagsterInstance, events: Ledger) -> Iterator[RunRecord]:
    """Canceled paid_build runs, and failed ones a person had asked to stop whose steps recorded no failure."""
    yield from instance.get_run_records(
        RunsFilter(job_name=paid_build_job.name, statuses=[DagsterRunStatus.CANCELED]), limit=CANCELED_LOOKBACK
    )
    since = datetime.now(UTC) - FAILED_WINDOW
    failed = RunsFilter(job_name=paid_build_job.name, statuses=[DagsterRunStatus.FAILURE], updated_after=since)
    for record in instance.get_run_records(failed, limit=FAILED_LOOKBACK):
        run = record.dagster_run
        if not events.has(idempotency_key(Kind.RUN_FAILED, run.run_id)) and stop_requested(instance, run):
            yield record


def record_cancellations(instance: DagsterInstance, events: Ledger, github: GitHubResource) -> list[str]:
    """Recently stopped paid_build runs whose cancel is not recorded (stopped while queued, between steps or as
    the run started, or the issue could not be told): `run.finished` (canceled), the decision and the comment,
    once each."""
    notes = []
    for record in stopped_runs(instance, events):
        run = record.dagster_run
        key = run.tags.get("dagster/partition", "")
        if not KEY.match(key) or events.has(idempotency_key(Kind.ISSUE_COMMENTED, "canceled", key, run.run_id)):
            continue
        stage = "the queue" if record.start_time is None else "a pause between steps"
        if run.status == DagsterRunStatus.FAILURE:
            stage = "the run's start"
        canceled = record_canceled(events, key, run.run_id, run.tags.get(CANCELED_BY, ""), stage)
        try:
            tell_canceled(github.client(), events, canceled)
        except GitHubError as exc:
            notes.append(f"{key}: canceled run {run.run_id[:8]} recorded; telling the issue failed ({exc})")
            continue
        notes.append(f"{key}: run {run.run_id[:8]} was canceled by {canceled.by}; recorded and told")
    return notes
