"""The default engine: SQLFrame's PySpark API compiled to DuckDB SQL, in-process."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa


class DuckDBEngine:
    """PySpark DataFrame API over an in-process DuckDB connection (SQLFrame).

    SQLFrame keeps one session per process (its functions look up "the active session"), so every
    DuckDBEngine shares that session; `connection` only applies to the first one created.
    """

    name = "duckdb"
    _views = itertools.count()

    def __init__(
        self, connection: duckdb.DuckDBPyConnection | None = None, threads: int | None = None
    ):
        from sqlframe.duckdb import DuckDBSession

        self.session = DuckDBSession(conn=connection)
        # The cursor SQLFrame runs its queries on: registered Arrow objects are per cursor.
        self.connection = self.session._cur
        if threads:
            self.connection.execute(f"SET threads = {int(threads)}")

    def read_parquet(self, path: str | Path) -> Any:
        # A view over read_parquet rather than session.read.parquet, whose TRY_CAST of every
        # column on every row costs more than the feature query itself on small data.
        path = Path(path)
        target = str(path / "*.parquet") if path.is_dir() else str(path)
        name = f"churnops_parquet_{next(self._views)}"
        quoted = target.replace("'", "''")
        self.connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{quoted}')")
        return self.session.table(name)

    def from_arrow(self, table: pa.Table) -> Any:
        # Zero-copy, unlike createDataFrame's row literals. SQLFrame resolves columns through the
        # main catalog, where neither registered objects nor temp views appear: hence a plain view.
        name = f"churnops_arrow_{next(self._views)}"
        self.connection.register(f"{name}_src", table)
        self.connection.execute(f"CREATE VIEW {name} AS SELECT * FROM {name}_src")
        return self.session.table(name)

    def to_arrow(self, df: Any) -> pa.Table:
        return df.toArrow()

    def view(self, df: Any, name: str) -> Any:
        self.connection.execute(f"CREATE OR REPLACE VIEW {_quote(name)} AS {self.compile(df)}")
        return self.session.table(name)

    def compile(self, df: Any) -> str:
        # SQLFrame builds and generates SQL in Python (sqlglot): for a wide aggregation that
        # takes longer than DuckDB takes to run it on a small input. This is the text
        # `toArrow` runs (its dialect is tuned to the DuckDB version; `df.sql()` is Spark's).
        statements = [df.session._to_sql(e) for e in df._get_expressions(optimize=False)]
        if len(statements) != 1:  # a cached DataFrame adds CACHE TABLE statements
            raise ValueError(f"expected one SQL statement for the DataFrame, got {len(statements)}")
        return statements[0]

    def run_sql(self, sql: str) -> pa.Table:
        return self.connection.sql(sql).to_arrow_table()

    def stop(self) -> None:
        """Nothing to release: the shared session lives as long as the process."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
