from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh ledger database: a SQLite file, or a PostgreSQL database of its own (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    url = os.environ.get("PAID_TEST_POSTGRES_URL", "")
    if not url:
        pytest.fail("PostgreSQL tests need PAID_TEST_POSTGRES_URL: run them with `make test`, which starts PostgreSQL")
    server = sa.make_url(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    name = f"paid_prompts_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    yield server.set(database=name).render_as_string(hide_password=False)
    from paid_dagster.ledger import store

    for key in [k for k in store._ENGINES if name in k]:
        store._ENGINES.pop(key).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()
