"""Each step of `paid_build` says who runs it and, when it fails, why: the worker's pid, host and start time as
run tags (the retry sensor finds a dead worker by them), and a `run.failed` event classified where it happened
(stage, transient or not) that Paid's retry policy (`paid_retry_sensor`) acts on; when a person terminates the
run (Dagster raises its interruption in the step), `run.finished` (canceled), the decision and one comment, and
no `run.failed`: a canceled run is never retried."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from dagster import AssetExecutionContext, DagsterExecutionInterruptedError

from ..cancel import record_canceled
from ..github.client import GitHubError
from ..github.publish import tell_canceled
from ..retries import classify, record_failure
from ..run_tags import CANCELED_BY
from ..worker import this_worker

F = TypeVar("F", bound=Callable[..., Any])


def attempt_of(context: AssetExecutionContext) -> int:
    return int(context.run.tags.get("paid/attempt", "1"))


def _mark_worker(context: AssetExecutionContext) -> None:
    worker = this_worker()
    if context.run.tags.get("paid/worker_pid") != str(worker.pid):
        context.instance.add_run_tags(context.run.run_id, worker.tags())


def _record(context: AssetExecutionContext, ledger: Any, stage: str, exc: BaseException) -> None:
    failure = classify(stage, exc)
    run_key = context.run.tags.get("dagster/run_key", "")
    record_failure(ledger.ledger(), context.partition_key, failure, context.run.run_id, attempt_of(context), run_key)
    then = "transient: paid_retry_sensor starts a new attempt" if failure.transient else "permanent: not retried"
    context.log.error(f"{stage} failed ({then}): {failure.error_type}: {failure.error[:500]}")


def _record_canceled(context: AssetExecutionContext, resources: dict[str, Any], stage: str) -> None:
    run = context.instance.get_run_by_id(context.run.run_id) or context.run  # fresh tags: `paid stop` sets one
    events = resources["ledger"].ledger()
    canceled = record_canceled(events, context.partition_key, run.run_id, run.tags.get(CANCELED_BY, ""), stage)
    context.log.warning(f"{stage}: canceled by {canceled.by}; the sandbox is ended, nothing more is pushed")
    try:
        tell_canceled(resources["github"].client(), events, canceled)
    except GitHubError as exc:  # the retry sensor's look at canceled runs tells the issue later
        context.log.warning(f"telling the issue about the cancel failed ({exc}); paid_retry_sensor tries again")


def failures_recorded(stage: str) -> Callable[[F], F]:
    """Under `@asset`: the step's worker marked on the run, its failure recorded as `run.failed`."""

    def wrap(fn: F) -> F:
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def generator(context: AssetExecutionContext, *args: Any, **kwargs: Any) -> Iterator[Any]:
                _mark_worker(context)
                try:
                    yield from fn(context, *args, **kwargs)
                except DagsterExecutionInterruptedError:
                    _record_canceled(context, kwargs, stage)
                    raise
                except Exception as exc:
                    _record(context, kwargs["ledger"], stage, exc)
                    raise

            return generator  # type: ignore[return-value]

        @functools.wraps(fn)
        def plain(context: AssetExecutionContext, *args: Any, **kwargs: Any) -> Any:
            _mark_worker(context)
            try:
                return fn(context, *args, **kwargs)
            except DagsterExecutionInterruptedError:
                _record_canceled(context, kwargs, stage)
                raise
            except Exception as exc:
                _record(context, kwargs["ledger"], stage, exc)
                raise

        return plain  # type: ignore[return-value]

    return wrap
