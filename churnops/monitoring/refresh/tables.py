"""Arrow schemas of the metric tables (Databricks' column names) and their atomic Delta writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

TS = pa.timestamp("us", tz="UTC")
WINDOW_TYPE = pa.struct([("start", TS), ("end", TS)])
TEST_TYPE = pa.struct([("statistic", pa.float64()), ("pvalue", pa.float64())])
PER_CLASS = pa.struct(
    [
        ("one_vs_all", pa.map_(pa.string(), pa.float64())),
        ("macro", pa.float64()),
        ("weighted", pa.float64()),
    ]
)
CONFUSION = pa.list_(
    pa.struct([("prediction", pa.string()), ("label", pa.string()), ("count", pa.int64())])
)
NON_NULL_DELTA = pa.struct([("added", pa.int32()), ("missing", pa.int32())])
TABLE_ROW = ":table"  # column_name of the model-quality row

# Every column and type below is Databricks' own, from "Monitor metric tables"
# (https://docs.databricks.com/aws/en/lakehouse-monitoring/monitor-output, "Profile metrics
# table schema" and "Drift metrics table schema"; see docs/monitoring.md): a dashboard, alert
# or query written against a Databricks monitor runs on these tables unchanged.


def profile_schema(model_col: str) -> pa.Schema:
    """`<table>_profile_metrics`: one row per window, version, slice and column."""
    return pa.schema(
        [
            ("window", WINDOW_TYPE),
            ("granularity", pa.string()),
            (model_col, pa.string()),
            ("log_type", pa.string()),
            ("logging_table_commit_version", pa.int32()),
            ("monitor_version", pa.int64()),
            ("slice_key", pa.string()),
            ("slice_value", pa.string()),
            ("column_name", pa.string()),
            ("data_type", pa.string()),
            ("count", pa.int64()),
            ("num_nulls", pa.int64()),
            ("num_zeros", pa.int64()),
            ("num_nan", pa.int64()),
            ("avg", pa.float64()),
            ("stddev", pa.float64()),
            ("min", pa.float64()),
            ("max", pa.float64()),
            ("median", pa.float64()),
            ("quantiles", pa.list_(pa.float64())),
            ("distinct_count", pa.int64()),
            ("min_length", pa.float64()),
            ("max_length", pa.float64()),
            ("avg_length", pa.float64()),
            ("non_null_columns", pa.list_(pa.string())),
            ("percent_null", pa.float64()),
            ("percent_zeros", pa.float64()),
            ("percent_distinct", pa.float64()),
            ("percent_nan", pa.float64()),
            ("frequent_items", pa.list_(pa.struct([("item", pa.string()), ("count", pa.int64())]))),
            ("accuracy_score", pa.float64()),
            ("precision", PER_CLASS),
            ("recall", PER_CLASS),
            ("f1_score", PER_CLASS),
            ("confusion_matrix", CONFUSION),
            ("roc_auc_score", pa.float64()),
            ("pr_auc_score", pa.float64()),
            ("log_loss", pa.float64()),
            ("brier_score", pa.float64()),
            ("expected_calibration_error", pa.float64()),
            ("label_rate", pa.float64()),
            ("num_labelled", pa.int64()),
            ("percent_labelled", pa.float64()),
        ]
    )


def drift_schema(model_col: str) -> pa.Schema:
    """`<table>_drift_metrics`: one row per window, comparison, version, slice and column."""
    return pa.schema(
        [
            ("window", WINDOW_TYPE),
            ("window_cmp", WINDOW_TYPE),
            ("granularity", pa.string()),
            (model_col, pa.string()),
            ("slice_key", pa.string()),
            ("slice_value", pa.string()),
            ("column_name", pa.string()),
            ("data_type", pa.string()),
            ("drift_type", pa.string()),
            ("monitor_version", pa.int64()),
            ("count_delta", pa.int64()),
            ("avg_delta", pa.float64()),
            ("percent_null_delta", pa.float64()),
            ("percent_zeros_delta", pa.float64()),
            ("percent_distinct_delta", pa.float64()),
            ("non_null_columns_delta", NON_NULL_DELTA),
            ("ks_test", TEST_TYPE),
            ("wasserstein_distance", pa.float64()),
            ("population_stability_index", pa.float64()),
            ("chi_squared_test", TEST_TYPE),
            ("js_distance", pa.float64()),
            ("tv_distance", pa.float64()),
            ("l_infinity_distance", pa.float64()),
        ]
    )


HISTOGRAM_SCHEMA = pa.schema(
    [
        ("granularity", pa.string()),
        ("window_start", TS),
        ("model_id", pa.string()),
        ("slice_key", pa.string()),
        ("slice_value", pa.string()),
        ("column_name", pa.string()),
        ("bin", pa.int64()),
        ("item", pa.string()),
        ("count", pa.int64()),
    ]
)


def to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows (missing keys are NULL) as an Arrow table of `schema`."""
    names = schema.names
    return pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows], schema=schema)


def read_or_empty(path: str, schema: pa.Schema) -> pa.Table:
    """The Delta table at `path`, or an empty table of `schema` when there is none yet.

    A table written before a column was added gets it as NULLs (rewritten at the next refresh).
    """
    from churnops.data.delta_tables import open_table, read_table, table_exists

    if not table_exists(path):
        return schema.empty_table()
    table = read_table(open_table(path))
    for f in schema:
        if f.name not in table.column_names:
            table = table.append_column(f.name, pa.nulls(table.num_rows, f.type))
    return table.select(schema.names).cast(schema)


def replace_windows(
    path: str,
    new: pa.Table,
    keep: pa.Array | None,
    schema: pa.Schema,
    old: pa.Table | None = None,
) -> None:
    """Overwrite the table with the kept old rows plus `new`, in one Delta commit.

    One commit: a reader sees the table before or after the refresh, never half of it.
    `old`: the table as the caller already read it (else it is read here); `keep` masks it.
    """
    from churnops.data.delta_tables import open_table, write_table

    if keep is None:
        old = None  # a full refresh keeps nothing: no need to read what it replaces
    elif old is None:
        old = read_or_empty(path, schema)
    # Nothing old is replaced (only new windows): one append commit, no rewrite of the rest,
    # provided the table already has today's schema (delta-rs would cast into an older one).
    appends = old is not None and old.num_rows and keep is not None and pc.all(keep).as_py()
    if appends and pa.schema(open_table(path).schema().to_arrow()).equals(schema):
        write_table(path, new.cast(schema), mode="append")
        return
    parts = [old.filter(keep)] if old is not None and keep is not None and old.num_rows else []
    table = pa.concat_tables([*parts, new.cast(schema)]) if parts else new.cast(schema)
    write_table(path, table, mode="overwrite", schema_mode="overwrite")


def stale_mask(table: pa.Table, since: dict[str, dt.datetime] | None, col: str) -> pa.Array:
    """True for rows a refresh keeps: windows that start before its granularity's `since`.

    `col` is a timestamp column or `window` (the struct's start). A full refresh (`since` None)
    keeps nothing. Baseline rows (NULL window) are kept unless the refresh is full.
    """
    if since is None or table.num_rows == 0:
        return pa.array([False] * table.num_rows)
    starts = table[col] if col != "window" else pc.struct_field(table["window"], "start")
    keep = pa.array([True] * table.num_rows)
    for granularity, start in since.items():
        in_gran = pc.equal(table["granularity"], granularity)
        newer = pc.greater_equal(starts, pa.scalar(start, TS))
        keep = pc.and_(keep, pc.invert(pc.and_(in_gran, pc.fill_null(newer, False))))
    return keep
