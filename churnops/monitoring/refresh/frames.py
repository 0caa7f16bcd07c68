"""Delta tables into engine DataFrames, and the window / slice columns every metric groups by."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from churnops.data.delta_tables import delta_frame, open_table
from churnops.data.engines.api import dataframe_api

WINDOW = "window_start"
SLICE = "slice_value"


def delta_files(path: str | Path, version: int | None = None) -> list[str]:
    """The Parquet files in a Delta table's snapshot: local paths, or object-store URIs."""
    table = open_table(path, version=version)
    return [_local(uri) for uri in table.file_uris()]


def table_frame(engine: Any, path: str | Path, columns: list[str] | None = None) -> Any:
    """A DataFrame over the current snapshot of the Delta table at `path`, in `engine`'s session
    (`delta_frame` of the opened table); an empty table is an error naming it."""
    table = open_table(path)
    cols = columns or [f.name for f in table.schema().fields]
    if not table.file_uris():
        raise ValueError(f"Delta table {str(path)!r} has no rows")
    return delta_frame(engine, table, cols)


def with_slice(df: Any, expr: str | None, **columns: Any) -> Any:
    """Add `slice_value`: the slicing expression's value as a string (NULL: the whole table),
    and any other `columns` in the same projection (SQLFrame's compile time grows with each
    step of a DataFrame's chain)."""
    F, _ = dataframe_api(df)
    value = F.expr(expr).cast("string") if expr else F.lit(None).cast("string")
    return df.withColumns({**columns, SLICE: value})


def _local(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("", "file") else uri
