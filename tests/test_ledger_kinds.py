"""One list of event kinds: the ledger refuses any other, and a renamed kind's history reads under its new name."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import FORMER_NAMES, PAYLOAD, Kind
from paid_dagster.ledger.store import events_table

ROOT = Path(__file__).resolve().parents[1]


def test_every_kind_lists_its_payload() -> None:
    assert set(PAYLOAD) == set(Kind)
    assert all(isinstance(new, Kind) and old not in set(Kind) for old, new in FORMER_NAMES.items())


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with pytest.raises(ValueError, match=r"kinds\.py"):
        ledger.append("s", "run.finsihed", {})
    assert ledger.count() == 0


def test_history_under_a_former_name_reads_as_the_current_kind(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with ledger.engine.begin() as conn:  # an event written before the rename, as it lies in an old database
        conn.execute(
            events_table.insert().values(
                at=sa.func.current_timestamp(), stream="s", kind="followup.requested", data={"reason": "ci_failed"}
            )
        )
    ledger.append("s", Kind.FOLLOW_UP_REQUESTED, {"reason": "changes_requested"})
    events = ledger.read(stream="s", kinds=[Kind.FOLLOW_UP_REQUESTED])
    assert [e.kind for e in events] == [Kind.FOLLOW_UP_REQUESTED] * 2
    assert ledger.last("s", Kind.FOLLOW_UP_REQUESTED).data["reason"] == "changes_requested"  # type: ignore[union-attr]
    assert ledger.count(Kind.FOLLOW_UP_REQUESTED) == 2


def test_no_bare_kind_strings_in_the_product() -> None:
    """Kinds are named `Kind.X` in the product; the strings appear only in kinds.py."""
    offenders = []
    for path in (ROOT / "paid_dagster").rglob("*.py"):
        if path.name == "kinds.py":
            continue
        text = path.read_text()
        offenders += [f"{path.name}: {kind.value}" for kind in Kind if f'"{kind.value}"' in text]
    assert offenders == []
