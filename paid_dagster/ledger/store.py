"""Append-only `events` table on SQLAlchemy (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..secrets import redact_obj
from .kinds import Kind, canonical, known, stored_names

metadata = sa.MetaData()
events_table = sa.Table(
    "paid_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("stream", sa.String(255), nullable=False, index=True),
    sa.Column("kind", sa.String(100), nullable=False, index=True),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True, unique=True),
)
sa.Index("paid_events_kind_at", events_table.c.kind, events_table.c.at)


@dataclass(frozen=True)
class Event:
    seq: int
    at: datetime
    stream: str
    kind: str
    data: dict[str, Any]
    idempotency_key: str | None


def default_ledger_url() -> str:
    """The same database as Dagster's storage: PostgreSQL when configured, else a file in DAGSTER_HOME."""
    if os.environ.get("PAID_LEDGER_URL"):
        return os.environ["PAID_LEDGER_URL"]
    if os.environ.get("DAGSTER_PG_HOST"):
        user = os.environ.get("DAGSTER_PG_USERNAME", "postgres")
        password = os.environ.get("DAGSTER_PG_PASSWORD", "")
        host = os.environ["DAGSTER_PG_HOST"]
        port = os.environ.get("DAGSTER_PG_PORT", "5432")
        db = os.environ.get("DAGSTER_PG_DB", "dagster")
        return f"postgresql+psycopg2://{user}:{password}@{host}:{port}/{db}"
    home = Path(os.environ.get("DAGSTER_HOME") or ".paid/dagster_home")
    return f"sqlite:///{(home / 'paid_ledger.sqlite3').resolve()}"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_ENGINES: dict[str, sa.Engine] = {}


def create_tables(tables: sa.MetaData, engine: sa.Engine) -> None:
    """CREATE TABLE where missing; processes starting at once on a fresh database race on it (one is told the
    table exists between its check and its CREATE), so a failed attempt is checked again."""
    for attempt in range(5):
        try:
            tables.create_all(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, IntegrityError):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


class UnsupportedDatabase(RuntimeError):
    """The ledger's database cannot hold what Paid records; the message says how to make one that can."""


def refuse_non_utf8(engine: sa.Engine) -> None:
    """Events hold text from strangers in any script. A PostgreSQL database in another encoding (SQL_ASCII is what
    `initdb` makes under the C locale) stores it, then fails the first JSON query that decodes it, mid-run."""
    with engine.connect() as conn:
        encoding = str(conn.execute(sa.text("SHOW server_encoding")).scalar())
    if encoding.upper() not in ("UTF8", "UTF-8"):
        raise UnsupportedDatabase(
            f"the ledger's PostgreSQL database {engine.url.database!r} is encoded {encoding}; Paid needs UTF8."
            " Create it with `CREATE DATABASE <name> ENCODING 'UTF8' TEMPLATE template0` (or `initdb -E UTF8`)."
        )


def _engine(url: str) -> sa.Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 30})

            @sa.event.listens_for(engine, "connect")
            def _wal(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute("PRAGMA journal_mode=WAL")
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
            refuse_non_utf8(engine)
        create_tables(metadata, engine)
        _ENGINES[url] = engine
    return engine


class Ledger:
    """Facts are appended as they happen and never updated or deleted."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_ledger_url()
        self.engine = _engine(self.url)

    def append(
        self,
        stream: str,
        kind: str,
        data: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Event | None:
        """Appends a fact; with an idempotency key already used, appends nothing and returns None."""
        row = {
            "at": _utc(at or datetime.now(UTC)),
            "stream": stream,
            "kind": str(known(kind)),
            "data": redact_obj(json.loads(json.dumps(data or {}, default=str))),
            "idempotency_key": idempotency_key,
        }
        try:
            with self.engine.begin() as conn:
                seq = conn.execute(events_table.insert().values(**row)).inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError:
            if idempotency_key is None:
                raise
            return None
        return Event(seq=int(seq), **row)

    def append_many(self, rows: Iterable[dict[str, Any]]) -> int:
        """Bulk append (for imports and benchmarks); rows have stream, kind, data and optionally at."""
        batch = [
            {
                "at": _utc(r.get("at") or datetime.now(UTC)),
                "stream": r["stream"],
                "kind": str(known(r["kind"])),
                "data": redact_obj(json.loads(json.dumps(r.get("data", {}), default=str))),
                "idempotency_key": r.get("idempotency_key"),
            }
            for r in rows
        ]
        if batch:
            with self.engine.begin() as conn:
                conn.execute(events_table.insert(), batch)
        return len(batch)

    def has(self, idempotency_key: str) -> bool:
        return self.by_key(idempotency_key) is not None

    def by_key(self, idempotency_key: str) -> Event | None:
        query = sa.select(events_table).where(events_table.c.idempotency_key == idempotency_key)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return self._event(row) if row else None

    def read(
        self,
        stream: str | None = None,
        kinds: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int | None = None,
    ) -> list[Event]:
        return list(self.iter(stream, kinds, since, until, after_seq, limit))

    def iter(
        self,
        stream: str | None = None,
        kinds: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int | None = None,
    ) -> Iterator[Event]:
        query = sa.select(events_table).where(events_table.c.seq > after_seq).order_by(events_table.c.seq)
        if stream is not None:
            query = query.where(events_table.c.stream == stream)
        if kinds is not None:
            query = query.where(events_table.c.kind.in_(stored_names(kinds)))
        if since is not None:
            query = query.where(events_table.c.at >= _utc(since))
        if until is not None:
            query = query.where(events_table.c.at < _utc(until))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield self._event(row)

    def read_streams(self, streams: list[str], kinds: Iterable[str] | None = None) -> dict[str, list[Event]]:
        """Events of many streams in one query, grouped by stream, each in order."""
        grouped: dict[str, list[Event]] = {s: [] for s in streams}
        for chunk_start in range(0, len(streams), 500):
            chunk = streams[chunk_start : chunk_start + 500]
            query = sa.select(events_table).where(events_table.c.stream.in_(chunk)).order_by(events_table.c.seq)
            if kinds is not None:
                query = query.where(events_table.c.kind.in_(stored_names(kinds)))
            with self.engine.connect() as conn:
                for row in conn.execute(query):
                    grouped[row.stream].append(self._event(row))
        return grouped

    def last(self, stream: str, kind: str) -> Event | None:
        query = (
            sa.select(events_table)
            .where(events_table.c.stream == stream, events_table.c.kind.in_(stored_names([kind])))
            .order_by(events_table.c.seq.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return self._event(row) if row else None

    def project_spend(self, project: str, since: datetime, until: datetime) -> float:
        """Sum of `cost_usd` of the project's `llm.call` events in [since, until), computed by the database."""
        owner, name = project.split("/", 1)
        dialect = self.engine.dialect.name
        cost = (
            sa.cast(events_table.c.data["cost_usd"].as_string(), sa.Float)
            if dialect == "postgresql"
            else sa.func.json_extract(events_table.c.data, "$.cost_usd")
        )
        query = sa.select(sa.func.coalesce(sa.func.sum(cost), 0.0)).where(
            events_table.c.kind == Kind.LLM_CALL,
            events_table.c.stream.like(f"{owner}\\_\\_{name}\\_\\_%", escape="\\"),
            events_table.c.at >= _utc(since),
            events_table.c.at < _utc(until),
        )
        with self.engine.connect() as conn:
            return float(conn.execute(query).scalar_one() or 0.0)

    def llm_call_totals(
        self, since: datetime, until: datetime, through_seq: int | None = None
    ) -> list[tuple[Any, ...]]:
        """`llm.call` sums per (UTC day, stream, model) in [since, until), computed by the database:
        (day, stream, model, calls, tokens_in, tokens_out, tokens_cached, cost_usd); with `through_seq`, only the
        events recorded up to that sequence number (the ledger as a reader saw it)."""
        data = events_table.c.data
        if self.engine.dialect.name == "postgresql":
            day = sa.func.to_char(sa.func.timezone("UTC", events_table.c.at), "YYYY-MM-DD")
        else:
            day = sa.func.strftime("%Y-%m-%d", events_table.c.at)

        def total(field: str) -> Any:
            return sa.func.coalesce(sa.func.sum(data[field].as_float()), 0)

        model = data["model"].as_string()
        query = (
            sa.select(
                day,
                events_table.c.stream,
                model,
                sa.func.count(),
                total("tokens_in"),
                total("tokens_out"),
                total("tokens_cached"),
                total("cost_usd"),
            )
            .where(
                events_table.c.kind == Kind.LLM_CALL, events_table.c.at >= _utc(since), events_table.c.at < _utc(until)
            )
            .group_by(day, events_table.c.stream, model)
        )
        if through_seq is not None:
            query = query.where(events_table.c.seq <= through_seq)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]

    def fields(
        self, kinds: Iterable[str], texts: Sequence[str] = (), numbers: Sequence[str] = ()
    ) -> list[tuple[Any, ...]]:
        """(seq, stream, kind, *texts, *numbers) of each event of `kinds`, in order: payload fields extracted by the
        database, so that a fold over a long history does not decode every payload in Python."""
        data = events_table.c.data
        query = (
            sa.select(
                events_table.c.seq,
                events_table.c.stream,
                events_table.c.kind,
                *(data[name].as_string() for name in texts),
                *(data[name].as_float() for name in numbers),
            )
            .where(events_table.c.kind.in_(stored_names(kinds)))
            .order_by(events_table.c.seq)
        )
        with self.engine.connect() as conn:
            return [(r[0], r[1], canonical(r[2]), *r[3:]) for r in conn.execute(query)]

    def last_seq(self, kind: str, since: datetime | None = None, until: datetime | None = None) -> int:
        """The highest sequence number of `kind` events recorded in [since, until); 0 when there is none."""
        query = sa.select(sa.func.coalesce(sa.func.max(events_table.c.seq), 0)).where(
            events_table.c.kind.in_(stored_names([kind]))
        )
        if since is not None:
            query = query.where(events_table.c.at >= _utc(since))
        if until is not None:
            query = query.where(events_table.c.at < _utc(until))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def count(self, kind: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(events_table)
        if kind:
            query = query.where(events_table.c.kind.in_(stored_names([kind])))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _event(row: Any) -> Event:
        data = row.data if isinstance(row.data, dict) else json.loads(row.data)
        return Event(row.seq, _utc(row.at), row.stream, canonical(row.kind), data, row.idempotency_key)
