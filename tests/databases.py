"""A PostgreSQL database of a test's own on the suite's private cluster (`PAID_TEST_POSTGRES_URL`), dropped after."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from paid_dagster.ledger import store


def server_url() -> str:
    url = os.environ.get("PAID_TEST_POSTGRES_URL", "")
    if not url:
        pytest.fail("PostgreSQL tests need PAID_TEST_POSTGRES_URL: run them with `make test`, which starts PostgreSQL")
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


@contextlib.contextmanager
def postgres_database(prefix: str, encoding: str = "UTF8") -> Iterator[str]:
    """A new database's URL; the ledger engines cached for it are disposed before it is dropped."""
    admin = sa.create_engine(server_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    locale = "C.UTF-8" if encoding.upper() == "UTF8" else "C"
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                f"CREATE DATABASE {name} ENCODING '{encoding}' TEMPLATE template0"
                f" LC_COLLATE '{locale}' LC_CTYPE '{locale}'"
            )
        )
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        for key in [k for k in store._ENGINES if name in k]:
            store._ENGINES.pop(key).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
