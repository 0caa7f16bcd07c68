"""Check a batch against a feature table before anything is written.

A batch with a missing key column, a null or duplicate key, or a type that conflicts with the
table fails here, so a failed write leaves the table exactly as it was. A stream of batches is
checked as the writer reads it (`ValidatedStream`): its schema before the write starts, each
batch before the commit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churnops.data.feature_store.base import NAME_PART, FeatureStoreError


def normalise_type(t: pa.DataType) -> pa.DataType:
    """The type Delta stores for `t` (one string type, microsecond timestamps)."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_timestamp(t) and t.unit != "us":
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_dictionary(t):
        return normalise_type(t.value_type)
    return t


def normalise_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, normalise_type(f.type)) for f in schema])


def _widens(src: pa.DataType, dst: pa.DataType) -> bool:
    """Whether values of `src` fit `dst` without loss of meaning (int32 -> int64, int -> double)."""
    if pa.types.is_integer(src) and (pa.types.is_integer(dst) or pa.types.is_floating(dst)):
        return not pa.types.is_integer(dst) or dst.bit_width >= src.bit_width
    if pa.types.is_floating(src) and pa.types.is_floating(dst):
        return dst.bit_width >= src.bit_width
    if pa.types.is_date(src) and pa.types.is_date(dst):
        return True
    return pa.types.is_null(src)


def validated_schema(
    schema: pa.Schema, *, table: str, key_columns: list[str], table_schema: pa.Schema | None
) -> pa.Schema:
    """The schema rows of `schema` are written with (the table's types where it has the
    column), or raise naming the first problem: a column name, a missing key column, a type
    that conflicts with the table's, a new column with no type. Checked before any write."""
    for name in schema.names:
        if not NAME_PART.match(name):
            raise FeatureStoreError(
                f"table {table!r}: column name {name!r} is not a plain identifier "
                "(letters, digits, underscores)"
            )
    missing = [k for k in key_columns if k not in schema.names]
    if missing:
        raise FeatureStoreError(
            f"table {table!r}: the batch lacks key column(s) {missing}; "
            f"every write needs {key_columns}"
        )
    target = normalise_schema(table_schema) if table_schema is not None else None
    fields = []
    for f in schema:
        src = normalise_type(f.type)
        if target is not None and f.name in target.names:
            dst = target.field(f.name).type
            if src != dst and not _widens(src, dst):
                raise FeatureStoreError(
                    f"table {table!r}: column {f.name!r} has type {src} in the batch but {dst} in "
                    "the table; cast it or write it under a new name"
                )
            src = dst
        elif pa.types.is_null(src):
            raise FeatureStoreError(
                f"table {table!r}: new column {f.name!r} has no type (every value is null); "
                "give it a typed column"
            )
        fields.append(pa.field(f.name, src))
    return pa.schema(fields)


SPILL_ROWS = 1_000_000  # keys held in memory before they go to a temporary file
SPILL_CHECK_MEMORY = "512MiB"  # DuckDB's cap for the repeated-key check of spilled keys


class ValidatedStream:
    """A stream of record batches checked and cast batch by batch while a writer reads it.

    The schema is checked when the stream is made, before the writer starts; each batch is
    checked as it passes (its schema equals the stream's, no null keys), and no key may appear
    twice in the whole stream. A failing batch raises inside the writer's read, so the write
    aborts before its commit and the table is left as it was; `error` keeps the exception,
    which the writer's own error wraps. Python holds one batch, never the whole table; the
    key columns past `SPILL_ROWS` rows go to a temporary file.

    Args:
        source: the rows to write.
        table: the feature table's name, for messages.
        key_columns: primary keys plus the timeseries column, when there is one.
        table_schema: the table's current schema; None when the table is being created.
    """

    def __init__(
        self,
        source: pa.RecordBatchReader,
        *,
        table: str,
        key_columns: list[str],
        table_schema: pa.Schema | None,
    ):
        self.table, self.key_columns = table, key_columns
        self.schema = validated_schema(
            source.schema, table=table, key_columns=key_columns, table_schema=table_schema
        )
        self.error: Exception | None = None
        self.rows = 0
        self.reader = pa.RecordBatchReader.from_batches(self.schema, self._batches(source))

    def _batches(self, source: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        keys = _KeySpill(self.key_columns)
        # A stream in strictly increasing key order (what the engine's sorted writes give)
        # cannot repeat a key: the check over all keys at the end is skipped then.
        ordered, last = True, None
        try:
            for i, batch in enumerate(source):
                if not batch.schema.equals(source.schema):
                    raise FeatureStoreError(
                        f"table {self.table!r}: batch {i} has columns {_described(batch.schema)}"
                        f" but the stream declared {_described(source.schema)}; every batch "
                        "must have the stream's schema"
                    )
                _check_null_keys(batch, self.table, self.key_columns)
                key_batch = batch.select(self.key_columns)
                keys.add(key_batch)
                if ordered and key_batch.num_rows:
                    first = tuple(c[0].as_py() for c in key_batch.columns)
                    ordered = (last is None or last < first) and _increasing(key_batch)
                    last = tuple(c[-1].as_py() for c in key_batch.columns)
                self.rows += batch.num_rows
                yield _cast(batch, self.schema)
            if not ordered:
                keys.check_unique(self.table)
        except Exception as exc:
            self.error = exc
            raise
        finally:
            keys.close()

    def raise_error(self) -> None:
        """Re-raise a batch's problem (or the source's own error) as it was, when there was
        one; the writer wraps it in its own error type."""
        if self.error is not None:
            raise self.error


def _check_null_keys(batch: pa.RecordBatch, table: str, keys: list[str]) -> None:
    for key in keys:
        nulls = batch.column(key).null_count
        if nulls:
            raise FeatureStoreError(
                f"table {table!r}: key column {key!r} has {nulls} null value(s); keys must be set"
            )


def _increasing(keys: pa.RecordBatch) -> bool:
    """Whether every row's key is strictly greater than the row's before it (in order of the
    key columns, as a tuple)."""
    if keys.num_rows < 2:
        return True
    greater = pa.array(np.zeros(keys.num_rows - 1, dtype=bool))
    equal = pa.array(np.ones(keys.num_rows - 1, dtype=bool))
    for column in keys.columns:
        before, after = column.slice(0, len(column) - 1), column.slice(1)
        greater = pc.or_(greater, pc.and_(equal, pc.greater(after, before)))
        equal = pc.and_(equal, pc.equal(after, before))
    return bool(pc.all(greater).as_py())


class _KeySpill:
    """The key columns of a stream, kept for the repeated-key check: in memory up to
    `SPILL_ROWS` rows, beyond that in a temporary Parquet file, checked by DuckDB within a
    memory cap (spilling its hash table to disk). A 10M-row stream's keys held in Arrow, and
    their group-by, took about half a GiB of a step's 4 GiB."""

    def __init__(self, key_columns: list[str]):
        self.key_columns = key_columns
        self.batches: list[pa.RecordBatch] = []
        self.rows = 0
        self.path: str | None = None
        self.writer: pq.ParquetWriter | None = None

    def add(self, keys: pa.RecordBatch) -> None:
        self.batches.append(keys)
        self.rows += keys.num_rows
        if self.rows > SPILL_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.writer is None:
            fd, self.path = tempfile.mkstemp(prefix="churnops-keys-", suffix=".parquet")
            os.close(fd)
            self.writer = pq.ParquetWriter(self.path, self.batches[0].schema)
        for batch in self.batches:
            self.writer.write_batch(batch)
        self.batches = []

    def check_unique(self, table: str) -> None:
        """Raise naming a repeated key and how many keys repeat, if any does."""
        if self.writer is None:
            if self.batches:
                _check_unique_keys(pa.Table.from_batches(self.batches), table, self.key_columns)
            return
        self._flush()
        self.writer.close()
        self.writer = None
        import duckdb

        from churnops.data.engines.duckdb import configure_connection

        cols = ", ".join('"' + k.replace('"', '""') + '"' for k in self.key_columns)
        con = duckdb.connect()
        try:
            configure_connection(con, threads=1, memory_limit=SPILL_CHECK_MEMORY)
            found = con.execute(
                f"WITH d AS (SELECT {cols}, count(*) AS n FROM read_parquet(?) GROUP BY ALL "
                f"HAVING count(*) > 1) SELECT (SELECT count(*) FROM d), * FROM d LIMIT 1",
                [self.path],
            ).fetchone()
        finally:
            con.close()
        if found:
            example = dict(zip(self.key_columns, found[1:-1], strict=True))
            _raise_repeated(table, found[0], example, found[-1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.path is not None:
            os.unlink(self.path)
            self.path = None
        self.batches = []


def _check_unique_keys(keys: pa.Table, table: str, key_columns: list[str]) -> None:
    if not keys.num_rows:
        return
    counts = keys.group_by(key_columns).aggregate([([], "count_all")])
    dups = counts.filter(pc.greater(counts["count_all"], 1))
    if dups.num_rows:
        example = {k: dups[k][0].as_py() for k in key_columns}
        _raise_repeated(table, dups.num_rows, example, dups["count_all"][0].as_py())


def _raise_repeated(table: str, keys: int, example: dict, rows: int) -> None:
    raise FeatureStoreError(
        f"table {table!r}: {keys} key(s) appear more than once in the batch, "
        f"e.g. {example} ({rows} rows); keys must be unique"
    )


def _cast(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema):
        return batch
    columns = [
        c.cast(f.type) if c.type != f.type else c
        for c, f in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _described(schema: pa.Schema) -> str:
    return "(" + ", ".join(f"{f.name}: {f.type}" for f in schema) + ")"
