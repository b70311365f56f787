"""The ledger's database must hold any text: a PostgreSQL database in another encoding is refused up front."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from paid_dagster.ledger import Ledger
from paid_dagster.ledger.kinds import Kind
from paid_dagster.ledger.store import UnsupportedDatabase
from tests.databases import postgres_database

pytestmark = pytest.mark.postgres

STRANGER_TEXT = "Ünïcödé → 修复 ✓"


def test_a_sql_ascii_database_is_refused_with_what_to_do() -> None:
    with postgres_database("paid_ascii", encoding="SQL_ASCII") as url:
        with pytest.raises(UnsupportedDatabase, match=r"encoded SQL_ASCII; Paid needs UTF8.*ENCODING 'UTF8'"):
            Ledger(url)
        engine = sa.create_engine(url)
        with engine.connect() as conn:  # refused before a table was made: nothing half-done to clean up
            assert conn.execute(sa.text("SELECT to_regclass('paid_events')")).scalar() is None
        engine.dispose()


def test_a_utf8_database_keeps_and_queries_any_text() -> None:
    with postgres_database("paid_utf8") as url:
        ledger = Ledger(url)
        ledger.append("o/r#1", Kind.ISSUE_COMMENTED, {"purpose": STRANGER_TEXT, "ref": "1"})
        # The JSON field read in SQL: the kind of query that failed mid-run on a SQL_ASCII database.
        rows = ledger.fields([Kind.ISSUE_COMMENTED], ["purpose"])
        assert [row[3] for row in rows] == [STRANGER_TEXT]
