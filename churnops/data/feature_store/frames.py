"""DataFrames in and out of the feature store: Arrow, SQLFrame/DuckDB and pyspark, same session.

The store keeps data in Delta and hands back DataFrames in the caller's engine. These adapters
find the session a DataFrame belongs to and read Arrow tables or Delta snapshots into it.
"""

from __future__ import annotations

import itertools
from typing import Any

import pyarrow as pa

_views = itertools.count()


def frame_kind(obj: Any) -> str:
    """`"duckdb"` for a SQLFrame DataFrame/session/engine, `"spark"` for pyspark ones."""
    # An Engine has `name` and `session`; so does a SQLFrame DataFrame (`name` is a column there),
    # hence the module check first.
    engine_like = type(obj).__module__.startswith("churnops.")
    if (
        engine_like
        and getattr(obj, "name", None) in ("duckdb", "spark")
        and hasattr(obj, "session")
    ):
        return obj.name
    module = type(obj).__module__
    if module.startswith("sqlframe."):
        return "duckdb"
    if module.startswith("pyspark."):
        return "spark"
    raise TypeError(
        f"expected a SQLFrame or pyspark DataFrame, session or engine, got {type(obj).__qualname__}"
    )


def session_of(obj: Any) -> Any:
    """The session behind a DataFrame, an engine, or a session itself."""
    if hasattr(obj, "session") and getattr(obj, "name", None) in ("duckdb", "spark"):
        return obj.session  # an Engine
    if hasattr(obj, "sparkSession"):  # a pyspark DataFrame
        return obj.sparkSession
    session = getattr(obj, "session", None)  # a SQLFrame DataFrame
    return session if session is not None else obj


def to_arrow(data: Any) -> pa.Table:
    """An Arrow table from an engine DataFrame, a pandas DataFrame or an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "toArrow"):  # SQLFrame, pyspark >= 4
        return data.toArrow()
    if type(data).__module__.startswith("pandas."):
        return pa.Table.from_pandas(data, preserve_index=False)
    if type(data).__module__.startswith("pyspark."):
        return pa.Table.from_pandas(data.toPandas(), preserve_index=False)
    raise TypeError(
        "expected a DataFrame (SQLFrame, pyspark, pandas) or a pyarrow.Table, "
        f"got {type(data).__qualname__}"
    )


def arrow_to_frame(like: Any, table: pa.Table) -> Any:
    """Put an Arrow table into the session of `like` (a DataFrame, session or engine)."""
    session = session_of(like)
    if frame_kind(session) == "duckdb":
        return _duckdb_view(session, table)
    try:  # pyspark >= 4 takes Arrow directly
        return session.createDataFrame(table)
    except (TypeError, ValueError):
        return session.createDataFrame(table.to_pandas())


def parquet_files_to_frame(like: Any, files: list[str], columns: list[str]) -> Any:
    """A DataFrame over Parquet files whose schemas may differ by added columns."""
    session = session_of(like)
    if frame_kind(session) == "duckdb":
        name = f"churnops_fs_{next(_views)}"
        cols = ", ".join(_quote(c) for c in columns)
        session._cur.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT {cols} "
            f"FROM read_parquet({files!r}, union_by_name = true)"
        )
        return session.table(name)
    # mergeSchema: files written before a column was added lack it, and read it as null.
    return session.read.option("mergeSchema", "true").parquet(*files).select(*columns)


def _duckdb_view(session: Any, table: pa.Table) -> Any:
    # A named view over the registered Arrow object: SQLFrame resolves columns through the
    # catalog, which lists views.
    name = f"churnops_fs_{next(_views)}"
    session._cur.register(f"{name}_arrow", table)
    session._cur.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_arrow")
    return session.table(name)


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
