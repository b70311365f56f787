"""model_scorecard: what each model achieved per task, rolled up from the ledger (`learning/scorecard.py`)."""

from dagster import MetadataValue, Output

from ..learning.scorecard import model_records, scorecard_frame
from ..outcomes.costs import markdown_table
from ..resources import LedgerResource
from .outcomes import ledger_rollup


@ledger_rollup(code_version="1")
def model_scorecard(ledger: LedgerResource) -> Output:
    """Per model and task (triage, coding, review, model_selection): runs or calls, success rate, mean cost and
    duration, mean quality with its n. From the ledger only: a backfill asks neither GitHub nor the model."""
    frame = scorecard_frame(model_records(ledger.ledger()))
    return Output(frame, metadata={"scorecard": MetadataValue.md(markdown_table(frame)), "rows": len(frame)})
