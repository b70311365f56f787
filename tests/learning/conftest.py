from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paid_dagster.ledger import Ledger

from ..loop.conftest import fresh_postgres_schema, postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """An empty ledger on SQLite or on the test PostgreSQL (its schema dropped first)."""
    if request.param == "sqlite":
        yield Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
        return
    url = postgres_url()
    if not url:
        pytest.fail("PostgreSQL tests need PAID_TEST_POSTGRES_URL: run them with `make test`, which starts PostgreSQL")
    url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    fresh_postgres_schema(url)
    from paid_dagster.ledger import store

    store._ENGINES.clear()
    events = Ledger(url)
    yield events
    events.engine.dispose()
