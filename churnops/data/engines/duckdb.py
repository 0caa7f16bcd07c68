"""The default engine: SQLFrame's PySpark API compiled to DuckDB SQL, in-process."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa


class DuckDBEngine:
    """PySpark DataFrame API over an in-process DuckDB connection (SQLFrame)."""

    name = "duckdb"
    _views = itertools.count()

    def __init__(
        self, connection: duckdb.DuckDBPyConnection | None = None, threads: int | None = None
    ):
        from sqlframe.duckdb import DuckDBSession

        self.connection = connection or duckdb.connect()
        if threads:
            self.connection.execute(f"SET threads = {int(threads)}")
        self.session = DuckDBSession(conn=self.connection)

    def read_parquet(self, path: str | Path) -> Any:
        path = Path(path)
        target = str(path / "*.parquet") if path.is_dir() else str(path)
        return self.session.read.parquet(target)

    def from_arrow(self, table: pa.Table) -> Any:
        # Register the Arrow table as a view: zero-copy, unlike createDataFrame's row literals.
        name = f"churnops_arrow_{next(self._views)}"
        self.connection.register(name, table)
        return self.session.table(name)

    def to_arrow(self, df: Any) -> pa.Table:
        return df.toArrow()

    def stop(self) -> None:
        """Nothing to release: the connection closes with the engine."""
