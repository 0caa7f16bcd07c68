"""Check a batch against a feature table before anything is written.

A batch with a missing key column, a null or duplicate key, or a type that conflicts with the
table fails here, so a failed write leaves the table exactly as it was.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

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


def validate_batch(
    batch: pa.Table, *, table: str, key_columns: list[str], table_schema: pa.Schema | None
) -> pa.Table:
    """Return `batch` cast to the table's types, or raise naming the first problem found.

    Args:
        batch: the rows to write.
        table: the feature table's name, for messages.
        key_columns: primary keys plus the timeseries column, when there is one.
        table_schema: the table's current schema; None when the table is being created.
    """
    for name in batch.column_names:
        if not NAME_PART.match(name):
            raise FeatureStoreError(
                f"table {table!r}: column name {name!r} is not a plain identifier "
                "(letters, digits, underscores)"
            )
    missing = [k for k in key_columns if k not in batch.column_names]
    if missing:
        raise FeatureStoreError(
            f"table {table!r}: the batch lacks key column(s) {missing}; "
            f"every write needs {key_columns}"
        )
    for key in key_columns:
        nulls = batch[key].null_count
        if nulls:
            raise FeatureStoreError(
                f"table {table!r}: key column {key!r} has {nulls} null value(s); keys must be set"
            )
    if batch.num_rows:
        counts = batch.select(key_columns).group_by(key_columns).aggregate([([], "count_all")])
        dups = counts.filter(pc.greater(counts["count_all"], 1))
        if dups.num_rows:
            example = {k: dups[k][0].as_py() for k in key_columns}
            raise FeatureStoreError(
                f"table {table!r}: {dups.num_rows} key(s) appear more than once in the batch, "
                f"e.g. {example} ({dups['count_all'][0].as_py()} rows); keys must be unique"
            )
    target = normalise_schema(table_schema) if table_schema is not None else None
    columns, fields = [], []
    for f in batch.schema:
        src = normalise_type(f.type)
        column = batch[f.name]
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
        columns.append(column.cast(src) if column.type != src else column)
        fields.append(pa.field(f.name, src))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))
