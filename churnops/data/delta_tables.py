"""Delta tables at any storage location: open, test, write and read them as Arrow datasets that
Arrow reads with its own file system (local, S3, GCS, Azure) where it can."""

from __future__ import annotations

from pathlib import Path
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

    with storage.masked_errors():
        if isinstance(target, DeltaTable):  # an open table carries its own options
            write_deltalake(target, data, **kwargs)
            return
        loc = storage.location(target)
        storage.makedirs(loc.parent)
        write_deltalake(str(loc), data, storage_options=loc.storage_options(), **kwargs)


def commit_parquet_file(
    target: storage.StorageTarget, file: Path, mode: str, schema: pa.Schema
) -> None:
    """Make the Parquet file `file` the table's data (`overwrite`, replacing its rows and
    schema) or add it (`append`), in one commit, without reading it: the file is moved (or
    uploaded, then deleted) into the table's folder as it is and committed as an add action.

    Why not `write_table`: delta-rs gathers a write's input before its files are done (writing
    2.5 GB of 1 MB rows peaked at 6.9 GB) and concatenates it into Arrow arrays, whose 32-bit
    string offsets overflowed on a 10M-customer replay's 6 GB log. A file already written in
    bounded row groups needs neither. On an error the table is as it was.
    """
    import json
    import shutil
    import time
    import uuid

    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    if mode not in ("append", "overwrite"):
        raise ValueError(f"mode={mode!r}: expected 'append' or 'overwrite'")
    loc = storage.location(target)
    name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    rows = pq.ParquetFile(file).metadata.num_rows
    size = Path(file).stat().st_size
    storage.makedirs(loc)
    if loc.is_local:
        shutil.move(file, loc.local_path() / name)
    else:
        storage.upload(file, loc.join(name))
        Path(file).unlink()  # consumed either way, as a move consumes it
    add = AddAction(name, size, {}, int(time.time() * 1000), True, json.dumps({"numRecords": rows}))
    try:
        with storage.masked_errors():
            if table_exists(target):
                table = open_table(target)
                # An overwrite's commit replaces the schema with the rows; an append's file
                # must have the table's (a commit of files is not checked by delta-rs).
                have = pa.schema(table.schema().to_arrow())
                want = pa.schema(Schema.from_arrow(schema).to_arrow())
                if mode == "append" and not have.equals(want):
                    raise ValueError(
                        f"{loc}: appended rows have columns ({_described(want)}) but the "
                        f"table has ({_described(have)})"
                    )
                table.create_write_transaction([add], mode=mode, schema=schema)
            else:
                create_table_with_add_actions(
                    str(loc), Schema.from_arrow(schema), [add], mode="error",
                    storage_options=loc.storage_options(),
                )  # fmt: skip
    except BaseException:
        storage.remove(loc.join(name))  # not in the log: no reader sees it; tidy it away
        raise


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


def delta_frame(
    like: Any, target: storage.StorageTarget | DeltaTable, columns: list[str] | None = None
) -> Any:
    """A DataFrame over a Delta table's current snapshot in the session of `like` (a DataFrame,
    session or engine), wherever the table lives.

    DuckDB reads local Parquet files itself and an object store's through Arrow's dataset,
    scanned lazily; Spark reads the files' URIs itself (`s3a://` for `s3://`). Partition
    values live in the log, not the files: delta-rs assembles those rows.
    """
    from deltalake import DeltaTable

    from churnops.data.feature_store.frames import (
        arrow_to_frame,
        frame_kind,
        parquet_files_to_frame,
    )
    from churnops.data.feature_store.validation import normalise_schema

    dt = target if isinstance(target, DeltaTable) else open_table(target)
    import pyarrow as pa

    cols = columns or normalise_schema(pa.schema(dt.schema().to_arrow())).names
    files = dt.file_uris()
    local = storage.is_local(dt.table_uri)
    spark = frame_kind(like) == "spark"
    if files and not dt.metadata().partition_columns and (local or spark):
        paths = [storage.location(u).key if local else storage.spark_uri(u) for u in files]
        return parquet_files_to_frame(like, paths, cols)
    if files and not spark:  # DuckDB scans the Arrow dataset batch by batch
        return arrow_to_frame(like, arrow_dataset(dt)).select(*cols)
    return arrow_to_frame(like, read_table(dt, columns=cols))


def _described(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name}: {f.type}" for f in schema)
