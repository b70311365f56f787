"""One IO manager for Paid's tabular projections: pandas DataFrames stored as tables in the ledger's database,
so that SQL and BI tools can read them. A partition's rows are replaced when it is re-materialized."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from dagster import ConfigurableIOManager, InputContext, OutputContext

from ..ledger import Ledger

PARTITION = "partition_key"


class TableIOManager(ConfigurableIOManager):
    url: str = ""  # empty: the ledger's database

    def _engine(self) -> sa.Engine:
        return Ledger(self.url or None).engine

    @staticmethod
    def _table(context: OutputContext | InputContext) -> str:
        return "paid_" + "_".join(context.asset_key.path)

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if obj is None:
            return
        table = self._table(context)
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else []
        frame = obj.copy()
        if keys and PARTITION not in frame.columns:
            frame[PARTITION] = keys[0]
        engine = self._engine()
        with engine.begin() as conn:
            if sa.inspect(conn).has_table(table):
                if keys:
                    conn.execute(
                        sa.text(f"DELETE FROM {table} WHERE {PARTITION} IN :keys").bindparams(
                            sa.bindparam("keys", expanding=True)
                        ),
                        {"keys": keys},
                    )
                else:
                    conn.execute(sa.text(f"DELETE FROM {table}"))
            frame.to_sql(table, conn, if_exists="append", index=False)
        context.add_output_metadata({"table": table, "rows": len(frame)})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        table = self._table(context.upstream_output) if context.upstream_output else self._table(context)
        engine = self._engine()
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return pd.DataFrame()
            if context.has_asset_partitions:
                query = sa.text(f"SELECT * FROM {table} WHERE {PARTITION} IN :keys").bindparams(
                    sa.bindparam("keys", expanding=True)
                )
                return pd.read_sql(query, conn, params={"keys": list(context.asset_partition_keys)})
            return pd.read_sql(sa.text(f"SELECT * FROM {table}"), conn)
