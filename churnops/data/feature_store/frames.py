"""DataFrames in and out of the feature store: Arrow, SQLFrame/DuckDB and pyspark, same session.

The store keeps data in Delta and hands back DataFrames in the caller's engine. These adapters
find the session a DataFrame belongs to and read Arrow tables or Delta snapshots into it.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
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


# Rows per record batch a stream hands the writer. delta-rs keeps about 16 batches in flight
# (measured: its peak Arrow memory is 16 batches, whatever the table's size), so the batch size
# bounds a streamed write's memory: ~50 MB for a 20-column feature table.
BATCH_ROWS = 16_384


def open_batches(data: Any, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
    """A stream of record batches over `data`, read as the writer asks for them.

    `data` is an engine DataFrame (DuckDB runs the query and streams its result, spilling a
    sort; a Spark DataFrame still comes back through one Arrow table), a Parquet file or folder
    (a path or object-store URI, read batch by batch), a `pyarrow.RecordBatchReader` (read
    once: returned as it is), an Arrow table or batch, or a pandas DataFrame. Each call opens
    the source anew, except a reader, which can be read only once (see `reopenable`).
    """
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, str | Path):
        from churnops.data import storage

        # Arrow's default read-ahead (16 batches of 4 files) would hold ~200 MB of a wide
        # table ahead of the writer; the write is the slow side, so two batches keep it fed.
        dataset = storage.parquet_dataset(data)
        scanner = dataset.scanner(batch_size=batch_rows, batch_readahead=2, fragment_readahead=1)
        return scanner.to_reader()
    if not isinstance(data, pa.Table | pa.RecordBatch) and _is_duckdb_frame(data):
        from churnops.data.engines.duckdb import record_batches

        return record_batches(data, batch_rows=batch_rows)
    return to_arrow(data).to_reader(max_chunksize=batch_rows)


@contextmanager
def staged(data: Any) -> Iterator[Any]:
    """`data` for a store write, a DuckDB DataFrame first run into a temporary Parquet file
    (its path is yielded, and the file removed after): the query's memory (up to DuckDB's cap,
    3 GiB at 10M customers) is released before the writer and its checks take theirs; the two
    at once went past a 4 GiB step. A path can also be read again, should the write lose a
    commit race. Anything else is yielded as it is (a Spark query stays on its executors)."""
    if isinstance(data, pa.Table | pa.RecordBatch) or not _is_duckdb_frame(data):
        yield data
        return
    from churnops.data.engines.duckdb import copy_to_parquet

    with tempfile.TemporaryDirectory(prefix="churnops-staged-") as folder:
        path = Path(folder, "rows.parquet")
        copy_to_parquet(data, path)
        yield str(path)


def reopenable(data: Any) -> bool:
    """Whether `open_batches(data)` can be called again (a write retried after losing a
    commit race reads its rows anew): everything but a `pyarrow.RecordBatchReader`."""
    return not isinstance(data, pa.RecordBatchReader)


def _is_duckdb_frame(data: Any) -> bool:
    return type(data).__module__.startswith("sqlframe.") and hasattr(data, "toArrow")


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
