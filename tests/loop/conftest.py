from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions, instance_for_test
from paid_standins.stack import OfflineStack, start_stack


@dataclass
class Loop:
    stack: OfflineStack
    instance: DagsterInstance
    defs: Definitions
    ledger_url: str


def postgres_url() -> str | None:
    return os.environ.get("PAID_TEST_POSTGRES_URL")


def _overrides(kind: str) -> dict | None:
    if kind == "sqlite":
        return None
    url = postgres_url()
    if not url:
        pytest.fail("PostgreSQL tests need PAID_TEST_POSTGRES_URL: run them with `make test`, which starts PostgreSQL")
    return {"storage": {"postgres": {"postgres_url": url.replace("postgresql://", "postgresql+psycopg2://", 1)}}}


def fresh_postgres_schema(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def loop(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Loop]:
    kind = request.param
    stack = start_stack(tmp_path / "stack", sandbox="bubblewrap")
    if kind == "postgres":
        url = postgres_url() or ""
        fresh_postgres_schema(url.replace("postgresql://", "postgresql+psycopg2://", 1))
        ledger_url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    else:
        ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    monkeypatch.setenv("PAID_CONFIG", str(stack.config_path))
    monkeypatch.setenv("PAID_LEDGER_URL", ledger_url)
    from paid_dagster.ledger import store

    store._ENGINES.clear()
    from paid_dagster.definitions import defs

    (tmp_path / "dagster_home").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster_home"), overrides=_overrides(kind)) as instance:
        yield Loop(stack, instance, defs, ledger_url)
    stack.stop()
