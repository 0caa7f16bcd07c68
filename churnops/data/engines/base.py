"""The engine protocol: a PySpark-API session plus Arrow in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa


class Engine(Protocol):
    """A DataFrame engine with the PySpark API."""

    name: str
    session: Any  # a SparkSession or a SQLFrame session

    def read_parquet(self, path: str | Path) -> Any:
        """A DataFrame over a Parquet file or folder."""
        ...

    def from_arrow(self, table: pa.Table) -> Any:
        """A DataFrame holding an Arrow table."""
        ...

    def to_arrow(self, df: Any) -> pa.Table:
        """Collect a DataFrame to Arrow."""
        ...

    def view(self, df: Any, name: str) -> Any:
        """Name `df`'s query as a view (replacing one of that name); a DataFrame reading it.

        Queries built over the view name it, not the chain behind it, so their text stays
        the same when the view is redefined (see `compile`). A name's columns are fixed at its
        first use in a session (SQLFrame caches them): a view of other columns needs another
        name.
        """
        ...

    def compile(self, df: Any) -> str | None:
        """The SQL text `run_sql` runs for `df`; None where the engine plans queries itself."""
        ...

    def run_sql(self, sql: str) -> pa.Table:
        """Run SQL text from `compile` (this engine's dialect) and collect it to Arrow."""
        ...

    def stop(self) -> None:
        """Release the session (a no-op for sessions the engine did not create)."""
        ...
