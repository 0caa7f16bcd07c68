"""Delta tables as Arrow datasets that Arrow reads with its own file system where it can."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake import DeltaTable


def arrow_dataset(table: DeltaTable) -> ds.Dataset:
    """`table.to_pyarrow_dataset()`, on Arrow's native local file system for a local table.

    deltalake's default wraps its object store in a Python file system, so Arrow's IO threads
    hold Python file objects. A scan that a consumer (DuckDB) stops early leaves read-ahead
    work holding them; when such a file is released during interpreter shutdown, its thread
    must take the GIL, cannot, and the process aborts ("terminate called without an active
    exception"). Arrow's local file system needs no GIL, and reads faster besides.
    """
    import pyarrow.fs as pa_fs

    uri = urlparse(table.table_uri)
    if uri.scheme not in ("", "file"):
        return table.to_pyarrow_dataset()  # object stores keep deltalake's own handler
    root = unquote(uri.path).rstrip("/") or "/"
    return table.to_pyarrow_dataset(
        filesystem=pa_fs.SubTreeFileSystem(root, pa_fs.LocalFileSystem())
    )


def read_table(table: DeltaTable, columns: list[str] | None = None) -> pa.Table:
    """The whole table (or `columns`) as Arrow, read through `arrow_dataset`."""
    return arrow_dataset(table).to_table(columns=columns)
