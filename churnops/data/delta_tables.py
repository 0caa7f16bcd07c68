"""Delta tables at any storage location: open, test, write and read them as Arrow datasets that
Arrow reads with its own file system (local, S3, GCS, Azure) where it can."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from churnops.data import storage

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake import DeltaTable


def open_table(target: storage.StorageTarget, version: int | None = None) -> DeltaTable:
    """The Delta table at a local path or object-store URI, with its credentials."""
    return storage.open_delta(target, version=version)


def table_exists(target: storage.StorageTarget) -> bool:
    """Whether a Delta table is at `target` (its `_delta_log` holds a commit)."""
    return storage.is_delta_table(target)


def write_table(target: storage.StorageTarget | DeltaTable, data: Any, **kwargs: Any) -> None:
    """`deltalake.write_deltalake` at a path or URI, with its credentials; one commit, so a
    failed write leaves the table as it was."""
    from deltalake import DeltaTable, write_deltalake

    if isinstance(target, DeltaTable):  # an open table carries its own options
        write_deltalake(target, data, **kwargs)
        return
    loc = storage.location(target)
    storage.makedirs(loc.parent)
    write_deltalake(str(loc), data, storage_options=loc.storage_options(), **kwargs)


def arrow_dataset(table: DeltaTable) -> ds.Dataset:
    """`table.to_pyarrow_dataset()`, on Arrow's native file system for the table's location.

    deltalake's default wraps its object store in a Python file system, so Arrow's IO threads
    hold Python file objects. A scan that a consumer (DuckDB) stops early leaves read-ahead
    work holding them; when such a file is released during interpreter shutdown, its thread
    must take the GIL, cannot, and the process aborts ("terminate called without an active
    exception"). Arrow's own local, S3, GCS and Azure file systems need no GIL, and read
    faster besides.
    """
    import pyarrow.fs as pa_fs

    fs, root = storage.location(table.table_uri).filesystem()
    if isinstance(fs, pa_fs.PyFileSystem):  # no native one for this store: deltalake's own
        return table.to_pyarrow_dataset()
    return table.to_pyarrow_dataset(filesystem=pa_fs.SubTreeFileSystem(root.rstrip("/"), fs))


def read_table(table: DeltaTable, columns: list[str] | None = None) -> pa.Table:
    """The whole table (or `columns`) as Arrow, read through `arrow_dataset`."""
    return arrow_dataset(table).to_table(columns=columns)
