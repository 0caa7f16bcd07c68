"""The embedded feature store: Delta tables (delta-rs) under a root folder, one per feature table.

`catalog.schema.table` lives at `ROOT/catalog/schema/table`. Every commit carries the table's
feature metadata (keys, timeseries column, description, tags, creator) in its commit info, so the
metadata travels with the Delta log. Writes are merges by key, validated before anything is
written, retried on a concurrent-commit conflict.
"""

from __future__ import annotations

import getpass
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from churnops.data import storage
from churnops.data.delta_tables import delta_frame, open_table, read_table, table_exists
from churnops.data.feature_store.base import (
    FeatureFunction,
    FeatureLookup,
    FeatureStoreError,
    FeatureTable,
    FeatureTableNotFoundError,
    as_list,
    split_table_name,
)
from churnops.data.feature_store.frames import open_batches, reopenable
from churnops.data.feature_store.validation import ValidatedStream, normalise_schema

METADATA_KEY = "churnops.featureTable"
WRITE_MODES = ("merge", "overwrite")
# delta-rs holds a data file's row groups until the file reaches its target size (100 MB of
# Parquet by default) and a row group until 1M rows: smaller ones bound what a streamed write
# holds, for a few more files per version.
TARGET_FILE_BYTES = 32 << 20
ROW_GROUP_ROWS = 1 << 17


class LocalFeatureStore:
    """The `FeatureStore` protocol on Delta tables under `root`.

    Args:
        root: folder or object-store URI (`s3://`, `gs://`, `abfss://`, `/Volumes/...`)
            holding the tables; credentials from the storage setting (`churnops.data.storage`).
        engine: the engine whose DataFrames `read_table` returns when no DataFrame tells which
            (created as duckdb on first use). `create_training_set` uses the caller's DataFrame's
            own session.
        max_commit_retries: how often a write is retried after losing a commit race.
    """

    def __init__(self, root: str | Path, engine: Any = None, max_commit_retries: int = 30):
        self.root = storage.join(root)
        self._engine = engine
        self._own_engine = False  # an engine created here is stopped by close(); a given one not
        self.max_commit_retries = max_commit_retries

    def close(self) -> None:
        """Stop the engine this store created for itself (never one it was given)."""
        if self._own_engine and self._engine is not None:
            self._engine.stop()
            self._engine, self._own_engine = None, False

    def __enter__(self) -> LocalFeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- paths and metadata -------------------------------------------------------------

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from churnops.data.engines import get_engine

            self._engine, self._own_engine = get_engine("duckdb"), True
        return self._engine

    def table_path(self, name: str) -> str:
        """Where the Delta table for `name` lives (a path or URI under the root)."""
        return storage.join(self.root, *split_table_name(name))

    def _open(self, name: str, version: int | None = None) -> DeltaTable:
        path = self.table_path(name)
        try:
            return open_table(path, version=version)
        except TableNotFoundError:
            raise FeatureTableNotFoundError(
                f"feature table {name!r} does not exist (looked in {path})"
            ) from None
        except DeltaError as exc:
            if version is not None:
                raise FeatureStoreError(
                    f"feature table {name!r}: cannot read version={version!r}: {exc}"
                ) from None
            raise

    def _metadata(self, dt: DeltaTable, name: str) -> dict[str, Any]:
        # Our commits all carry the metadata, so the newest usually has it; a commit made by
        # another Delta writer sends the search further back.
        latest = dt.history(1)
        if latest and METADATA_KEY in latest[0]:
            return json.loads(latest[0][METADATA_KEY])
        for commit in dt.history():
            if METADATA_KEY in commit:
                return json.loads(commit[METADATA_KEY])
        raise FeatureStoreError(f"{name!r} is a Delta table but not a churnops feature table")

    def _commit(self, meta: dict[str, Any], operation: str) -> CommitProperties:
        return CommitProperties(
            custom_metadata={METADATA_KEY: json.dumps(meta), "churnops.operation": operation},
            max_commit_retries=self.max_commit_retries,
        )

    def list_tables(self) -> list[str]:
        """Names of the feature tables under the root."""
        names = [
            f"{catalog}.{schema}.{table}"
            for catalog in storage.list_dirs(self.root)
            for schema in storage.list_dirs(storage.join(self.root, catalog))
            for table in storage.list_dirs(storage.join(self.root, catalog, schema))
            if table_exists(storage.join(self.root, catalog, schema, table))
        ]
        return sorted(names)

    def get_table(self, name: str) -> FeatureTable:
        """The table's metadata: keys, timeseries column, features, description, tags, version."""
        dt = self._open(name)
        meta = self._metadata(dt, name)
        schema = normalise_schema(pa.schema(dt.schema().to_arrow()))
        keys = meta["primary_keys"] + (
            [meta["timeseries_column"]] if meta["timeseries_column"] else []
        )
        last = dt.history(1)[0]
        return FeatureTable(
            name=name,
            path=self.table_path(name),
            primary_keys=meta["primary_keys"],
            timeseries_column=meta["timeseries_column"],
            partition_columns=meta["partition_columns"],
            description=meta["description"],
            tags=meta["tags"],
            created_by=meta["created_by"],
            created_at=meta["created_at"],
            features=[c for c in schema.names if c not in keys],
            schema={f.name: str(f.type) for f in schema},
            version=dt.version(),
            updated_at=datetime.fromtimestamp(last["timestamp"] / 1000, UTC).isoformat(
                timespec="seconds"
            ),
        )

    def history(self, name: str) -> list[dict[str, Any]]:
        """One dict per version, newest first: version, timestamp, operation, rows written."""
        out = []
        for c in self._open(name).history():
            metrics = c.get("operationMetrics", {})
            out.append(
                {
                    "version": c["version"],
                    "timestamp": datetime.fromtimestamp(c["timestamp"] / 1000, UTC).isoformat(),
                    "operation": c.get("churnops.operation", c.get("operation")),
                    "rows": metrics.get("num_added_rows", metrics.get("num_output_rows")),
                }
            )
        return out

    # ---- create, write, read, drop ------------------------------------------------------

    def create_table(
        self,
        name: str,
        primary_keys: str | list[str],
        df: Any = None,
        schema: Any = None,
        timeseries_column: str | None = None,
        partition_columns: str | list[str] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> FeatureTable:
        """Create a feature table from `df` (written as version 0) or an empty one from `schema`.

        `df` may be a stream (see `frames.open_batches`: an engine DataFrame, a Parquet path, a
        `pyarrow.RecordBatchReader`) as well as a table: it is written batch by batch. Its
        schema is checked before anything is written, each batch before the commit.

        Raises:
            FeatureStoreError: the name is taken or malformed, neither df nor schema is given, a
                key is missing, or `df` fails validation (nothing is created then).
        """
        path = self.table_path(name)
        keys = as_list(primary_keys)
        parts = as_list(partition_columns)
        if not keys:
            raise FeatureStoreError(f"table {name!r}: primary_keys={primary_keys!r}: need one+")
        if timeseries_column in keys:
            raise FeatureStoreError(
                f"table {name!r}: timeseries_column={timeseries_column!r} is also a primary key; "
                "list it only as timeseries_column"
            )
        if table_exists(path):
            raise FeatureStoreError(f"feature table {name!r} already exists ({path})")
        if df is None and schema is None:
            raise FeatureStoreError(f"table {name!r}: give df or schema to create it")
        key_columns = keys + ([timeseries_column] if timeseries_column else [])
        stream = None
        if df is not None:  # the schema is checked here, each batch as the write reads it
            stream = ValidatedStream(
                open_batches(df), table=name, key_columns=key_columns, table_schema=None
            )
            arrow_schema = stream.schema
        else:
            arrow_schema = _arrow_schema(schema)
            missing = [k for k in key_columns if k not in arrow_schema.names]
            if missing:
                raise FeatureStoreError(f"table {name!r}: schema lacks key column(s) {missing}")
        bad_parts = [p for p in parts if p not in arrow_schema.names]
        if bad_parts:
            raise FeatureStoreError(
                f"table {name!r}: partition_columns {bad_parts} are not columns of the table"
            )
        meta = {
            "name": name,
            "primary_keys": keys,
            "timeseries_column": timeseries_column,
            "partition_columns": parts,
            "description": description,
            "tags": dict(tags or {}),
            "created_by": getpass.getuser(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        storage.makedirs(storage.location(path).parent)
        commit = self._commit(meta, "CREATE TABLE")
        options = storage.delta_options(path)
        if stream is not None:
            try:
                write_deltalake(
                    path, stream.reader, mode="error", partition_by=parts or None, name=name,
                    description=description, commit_properties=commit, storage_options=options,
                    **_file_sizes(),
                )  # fmt: skip
            except Exception:
                # A bad batch stopped the write before its commit: no table, and none of the
                # files written before it either.
                if not table_exists(path):
                    storage.remove(path)
                stream.raise_error()
                raise
        else:
            DeltaTable.create(
                path, normalise_schema(arrow_schema), mode="error",
                partition_by=parts or None, name=name, description=description,
                commit_properties=commit, storage_options=options,
            )  # fmt: skip
        return self.get_table(name)

    def write_table(self, name: str, df: Any, mode: str = "merge") -> int:
        """Upsert `df` into the table by its keys (`merge`), or replace its rows (`overwrite`).

        New columns become new features; rows absent from `df` are kept (merge). `df` may be a
        stream, as in `create_table`, and is written batch by batch. Its schema is checked
        before the write starts and each batch before the commit: on error nothing is written.
        A lost commit race is retried, reading `df` anew (a `RecordBatchReader`, readable once,
        is not retried).

        Returns:
            The Delta version the write created.
        """
        if mode not in WRITE_MODES:
            raise FeatureStoreError(f"write_table mode={mode!r}: expected one of {WRITE_MODES}")
        dt = self._open(name)
        meta = self._metadata(dt, name)
        key_columns = meta["primary_keys"] + (
            [meta["timeseries_column"]] if meta["timeseries_column"] else []
        )
        commit = self._commit(meta, f"WRITE {mode.upper()}")
        for attempt in range(self.max_commit_retries + 1):
            if attempt and not reopenable(df):
                raise FeatureStoreError(
                    f"feature table {name!r}: another writer committed first and the rows "
                    "came as a RecordBatchReader, which can be read only once; nothing was "
                    "written. Pass a DataFrame, an Arrow table or a Parquet path to have the "
                    "write retried"
                )
            stream = ValidatedStream(
                open_batches(df),
                table=name,
                key_columns=key_columns,
                table_schema=pa.schema(dt.schema().to_arrow()),
            )
            try:
                if mode == "overwrite":
                    write_deltalake(
                        dt, stream.reader, mode="overwrite", schema_mode="merge",
                        commit_properties=commit, **_file_sizes(),
                    )  # fmt: skip
                else:
                    self._merge(dt, stream.reader, key_columns, commit)
                return open_table(self.table_path(name)).version()
            except Exception as exc:
                stream.raise_error()  # a bad batch: the table is as it was
                if not _is_conflict(exc) or attempt == self.max_commit_retries:
                    raise
                # Another writer committed first: reload and redo the merge on its result.
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                dt = open_table(self.table_path(name))
        raise AssertionError("unreachable")

    @staticmethod
    def _merge(
        dt: DeltaTable,
        rows: pa.RecordBatchReader,
        key_columns: list[str],
        commit: CommitProperties,
    ) -> None:
        on = " AND ".join(f"t.{k} = s.{k}" for k in key_columns)
        values = {c: f"s.{c}" for c in rows.schema.names}
        updates = {c: v for c, v in values.items() if c not in key_columns}
        # delta-rs streams the source through the merge (`streamed_exec`, its default).
        merger = dt.merge(
            rows, on, source_alias="s", target_alias="t", merge_schema=True,
            commit_properties=commit, writer_properties=_file_sizes()["writer_properties"],
        )  # fmt: skip
        if updates:
            merger = merger.when_matched_update(updates)
        merger.when_not_matched_insert(values).execute()

    def read_table_arrow(
        self, name: str, version: int | None = None, as_of_delta_timestamp: Any = None
    ) -> pa.Table:
        """The table's rows as Arrow, at the latest version or as of a version or time."""
        return read_table(self._open_as_of(name, version, as_of_delta_timestamp))

    def read_table(
        self,
        name: str,
        version: int | None = None,
        as_of_delta_timestamp: Any = None,
        like: Any = None,
    ) -> Any:
        """The table as a DataFrame in the session of `like` (default: the store's engine).

        Args:
            name: the feature table.
            version: a Delta version to read (time travel).
            as_of_delta_timestamp: a datetime or ISO string; reads the version current then.
            like: a DataFrame, session or engine whose session the result belongs to.
        """
        dt = self._open_as_of(name, version, as_of_delta_timestamp)
        return delta_frame(like if like is not None else self.engine, dt)

    def _open_as_of(self, name: str, version: int | None, timestamp: Any) -> DeltaTable:
        if version is not None and timestamp is not None:
            raise FeatureStoreError("give version or as_of_delta_timestamp, not both")
        dt = self._open(name, version=version)
        if timestamp is not None:
            try:
                dt.load_as_version(timestamp)
            except Exception as exc:
                raise FeatureStoreError(
                    f"feature table {name!r}: no version as of {timestamp!r}: {exc}"
                ) from None
        return dt

    def drop_table(self, name: str) -> None:
        """Delete the table and its files (published online copies are left alone)."""
        self._open(name)
        storage.remove(self.table_path(name))

    # ---- training sets and publishing --------------------------------------------------

    def create_training_set(
        self,
        df: Any,
        feature_lookups: list[FeatureLookup | FeatureFunction],
        label: str | list[str] | None,
        exclude_columns: list[str] | None = None,
    ) -> Any:
        """A `LocalTrainingSet`: the lookups' features joined onto `df`, point-in-time where a
        lookup has a `timestamp_lookup_key` and its table a timeseries column."""
        from churnops.data.feature_store.training_set import LocalTrainingSet

        return LocalTrainingSet(self, df, list(feature_lookups), label, exclude_columns or [])

    def publish_table(self, name: str, online_store: Any, mode: str = "incremental") -> Any:
        """Copy the latest row per key to `online_store`; see `publish.publish_table`."""
        from churnops.data.feature_store.publish import publish_table

        return publish_table(self, name, online_store, mode=mode)


def _file_sizes() -> dict[str, Any]:
    return {
        "target_file_size": TARGET_FILE_BYTES,
        "writer_properties": WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
    }


def _is_conflict(exc: Exception) -> bool:
    if isinstance(exc, CommitFailedError):
        return True
    if not isinstance(exc, DeltaError):
        return False
    text = str(exc).lower()
    return "conflict" in text or "concurrent" in text or "version already exists" in text


def _arrow_schema(schema: Any) -> pa.Schema:
    if isinstance(schema, pa.Schema):
        return schema
    if type(schema).__module__.startswith("pyspark."):  # a StructType
        from pyspark.sql.pandas.types import to_arrow_schema

        return to_arrow_schema(schema)
    raise FeatureStoreError(
        f"schema: expected a pyarrow.Schema or pyspark StructType, got {type(schema).__qualname__}"
    )
