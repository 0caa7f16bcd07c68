"""Profile statistics per window, model version and slice: aggregated in the engine, reshaped here.

One wide aggregation per grouping computes count, nulls, zeros, mean, stddev, min, max and
distinct counts for every numeric column; quantiles come from the fine histograms drift needs
anyway; categorical columns are counted per value. The rows follow Databricks'
`<table>_profile_metrics` columns. Each `*_query` builds a DataFrame (the caller runs it: see
`prepared.PreparedQueries`); the functions beside it reshape its collected result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from churnops.data.engines.api import dataframe_api


def numeric_profile_query(df: Any, keys: list[str], columns: list[str]) -> Any:
    """Per group of `keys`: rows, and for each column count, zeros, mean, stddev, min, max,
    approximate distinct count and `_fractional` (values that are not whole numbers: integral
    bins need none). Quantiles are left to `fill_quantiles` (read off the fine histograms): a
    quantile sketch per column and group cost more than the rest of the scan together."""
    F, _ = dataframe_api(df)
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for i, c in enumerate(columns):
        x = F.col(c).cast("double")
        aggs += [
            F.count(x).alias(f"c{i}_count"),
            F.count(F.when(x == 0, 1)).alias(f"c{i}_zeros"),
            # NaN read as text: DuckDB folds isnan() to false from Parquet statistics that
            # delta-rs writes without NaN, so isnan() counts none there.
            F.count(F.when(F.lower(x.cast("string")) == F.lit("nan"), 1)).alias(f"c{i}_nan"),
            F.avg(x).alias(f"c{i}_avg"),
            F.stddev(x).alias(f"c{i}_stddev"),
            F.min(x).alias(f"c{i}_min"),
            F.max(x).alias(f"c{i}_max"),
            F.approx_count_distinct(x).alias(f"c{i}_distinct"),
            F.count(F.when(x != F.floor(x), 1)).alias(f"c{i}_fractional"),
        ]
    return df.groupBy(*keys).agg(*aggs)


def numeric_profile_rows(
    result: pa.Table, keys: list[str], columns: list[str]
) -> list[dict[str, Any]]:
    """One dict per (keys..., column) with the profile statistics, from `numeric_profile_query`."""
    rows = []
    for rec in result.to_pylist():
        n = int(rec["_rows"])
        for i, c in enumerate(columns):
            count = int(rec[f"c{i}_count"] or 0)
            zeros = int(rec[f"c{i}_zeros"] or 0)
            nans = int(rec[f"c{i}_nan"] or 0)
            distinct = int(rec[f"c{i}_distinct"] or 0)
            rows.append(
                {
                    **{k: rec[k] for k in keys},
                    "column_name": c,
                    "data_type": "double",
                    "count": count,
                    "num_nulls": n - count,
                    "num_zeros": zeros,
                    "num_nan": nans,
                    "avg": rec[f"c{i}_avg"],
                    "stddev": rec[f"c{i}_stddev"],
                    "min": rec[f"c{i}_min"],
                    "max": rec[f"c{i}_max"],
                    "median": None,
                    "quantiles": None,
                    "distinct_count": distinct,
                    "percent_null": 100.0 * (n - count) / n if n else None,
                    "percent_zeros": 100.0 * zeros / n if n else None,
                    "percent_nan": 100.0 * nans / n if n else None,
                    "percent_distinct": 100.0 * distinct / count if count else None,
                    "frequent_items": None,
                    "_rows": n,
                    "_fractional": int(rec[f"c{i}_fractional"] or 0),
                }
            )
    return rows


def fill_quantiles(row: dict[str, Any], counts: Any, spec: Any, quantiles: list[float]) -> None:
    """Set a numeric profile row's `quantiles` and `median` from its fine-bin `counts`."""
    if row.get("min") is None:
        return
    qs = spec.quantiles(counts, [*quantiles, 0.5], float(row["min"]), float(row["max"]))
    if qs is not None:
        row["quantiles"], row["median"] = qs[:-1] or None, qs[-1]


def categorical_counts_query(df: Any, keys: list[str], columns: list[str]) -> Any:
    """Rows per (keys..., column_name, item) with `count` (NULL items counted as NULL)."""
    F, _ = dataframe_api(df)
    pairs = F.array(
        *[F.struct(F.lit(c).alias("n"), F.col(c).cast("string").alias("v")) for c in columns]
    )
    long = df.select(*keys, F.explode(pairs).alias("kv")).select(
        *keys, F.col("kv.n").alias("column_name"), F.col("kv.v").alias("item")
    )
    return long.groupBy(*keys, "column_name", "item").count()


def _stride(specs: dict[str, Any]) -> int:
    return max((s.bins for s in specs.values()), default=1)


def numeric_histograms_query(df: Any, keys: list[str], specs: dict[str, Any]) -> Any:
    """Rows per (keys..., `_key`) with `count`: each column cut by its `BinSpec`, `_key` being
    the column's index * stride + its bin (see `histogram_rows`).

    One key per value keeps the expression and the grouping small: SQLFrame's compile time
    grows with the expression, and the engine hashes one long.
    """
    F, _ = dataframe_api(df)
    names = list(specs)
    stride = _stride(specs)
    keyed = []
    for i, c in enumerate(names):
        x = F.col(c).cast("double")
        spec = specs[c]
        if spec.integral:
            raw = F.ceil(x) + F.floor(x) - F.lit(2 * spec.lo)
        else:
            t = F.call_function("asinh", (x - F.lit(spec.center)) / F.lit(spec.scale))
            raw = F.floor((t - F.lit(spec.lo)) / F.lit(spec.width()))
        clipped = F.least(F.greatest(raw, F.lit(0)), F.lit(spec.bins - 1))
        # NULL and NaN get a NULL key (counted as nulls, not binned): GREATEST skips a NULL
        # argument on both engines, which would put it in the lowest bin.
        value = F.when(x.isNotNull() & ~F.isnan(x), clipped + F.lit(i * stride))
        keyed.append(value.cast("long"))
    long = df.select(*keys, F.explode(F.array(*keyed)).alias("_key"))
    return long.groupBy(*keys, "_key").count()


def histogram_rows(counts: pa.Table, keys: list[str], specs: dict[str, Any]) -> pa.Table:
    """`numeric_histograms_query`'s result as rows per (keys..., column_name, bin) with `count`."""
    names = list(specs)
    stride = _stride(specs)
    counts = counts.filter(pc.is_valid(counts["_key"]))  # NULL values: counted as nulls instead
    key = counts["_key"]
    column = pc.divide(key, stride)  # integer division on int64
    names_arr = pa.array(names, pa.string())
    return pa.table(
        {
            **{k: counts[k] for k in keys},
            "column_name": pc.take(names_arr, column),
            "bin": pc.subtract(key, pc.multiply(column, stride)),
            "count": counts["count"],
        }
    )


def categorical_profile(counts: pa.Table, keys: list[str], top: int) -> list[dict[str, Any]]:
    """Profile rows (count, nulls, distinct, frequent items) from per-item counts."""
    groups: dict[tuple, dict[str, int | None]] = {}
    for rec in counts.to_pylist():
        key = (*[rec[k] for k in keys], rec["column_name"])
        groups.setdefault(key, {})[rec["item"]] = int(rec["count"])
    rows = []
    for key, items in groups.items():
        nulls = items.pop(None, 0)
        count = sum(items.values())
        n = count + nulls
        ranked = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        lengths = {len(item): 0 for item in items}  # string lengths, weighted by their counts
        for item, k in items.items():
            lengths[len(item)] += k
        rows.append(
            {
                **dict(zip(keys, key[:-1], strict=True)),
                "column_name": key[-1],
                "data_type": "string",
                "count": count,
                "num_nulls": nulls,
                "distinct_count": len(items),
                "min_length": float(min(lengths)) if lengths else None,
                "max_length": float(max(lengths)) if lengths else None,
                "avg_length": sum(m * k for m, k in lengths.items()) / count if count else None,
                "percent_null": 100.0 * nulls / n if n else None,
                "percent_distinct": 100.0 * len(items) / count if count else None,
                "frequent_items": [{"item": k, "count": v} for k, v in ranked],
                "_rows": n,
            }
        )
    return rows


def merge_counts(counts: pa.Table, keys: list[str], drop: str, value: str) -> pa.Table:
    """Sum `count` over the `drop` key and put `value` there (per-version -> all versions '*')."""
    rest = [k for k in keys if k != drop]
    others = [c for c in counts.column_names if c not in (*keys, "count")]
    grouped = counts.group_by([*rest, *others]).aggregate([("count", "sum")])
    grouped = grouped.rename_columns([*rest, *others, "count"])
    return grouped.append_column(drop, pa.array(np.full(grouped.num_rows, value), pa.string()))
