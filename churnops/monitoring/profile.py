"""Profile statistics per window, model version and slice: aggregated in the engine, reshaped here.

One wide aggregation per grouping computes count, nulls, zeros, mean, stddev, min, max,
quantiles and distinct counts for every numeric column; categorical columns are counted per
value. The rows follow Databricks' `<table>_profile_metrics` columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from churnops.data.engines.api import dataframe_api
from churnops.monitoring.frames import collect


def numeric_profile(
    engine: Any, df: Any, keys: list[str], columns: list[str], quantiles: list[float]
) -> list[dict[str, Any]]:
    """One dict per (keys..., column) with the numeric profile statistics."""
    if not columns:
        return []
    F, _ = dataframe_api(df)
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for i, c in enumerate(columns):
        x = F.col(c).cast("double")
        aggs += [
            F.count(x).alias(f"c{i}_count"),
            F.sum(F.when(x == 0, 1).otherwise(0)).cast("long").alias(f"c{i}_zeros"),
            F.avg(x).alias(f"c{i}_avg"),
            F.stddev(x).alias(f"c{i}_stddev"),
            F.min(x).alias(f"c{i}_min"),
            F.max(x).alias(f"c{i}_max"),
            # One sketch per column: the configured quantiles, then the median.
            F.percentile_approx(x, [*quantiles, 0.5]).alias(f"c{i}_quantiles"),
            F.approx_count_distinct(x).alias(f"c{i}_distinct"),
        ]
    table = collect(engine, df.groupBy(*keys).agg(*aggs)).to_pylist()
    rows = []
    for rec in table:
        n = int(rec["_rows"])
        for i, c in enumerate(columns):
            count = int(rec[f"c{i}_count"] or 0)
            qs = [float(v) for v in rec[f"c{i}_quantiles"] or []]
            rows.append(
                {
                    **{k: rec[k] for k in keys},
                    "column_name": c,
                    "data_type": "double",
                    "count": count,
                    "num_nulls": n - count,
                    "num_zeros": int(rec[f"c{i}_zeros"] or 0),
                    "avg": rec[f"c{i}_avg"],
                    "stddev": rec[f"c{i}_stddev"],
                    "min": rec[f"c{i}_min"],
                    "max": rec[f"c{i}_max"],
                    "median": qs[-1] if qs else None,
                    "quantiles": qs[:-1] or None,
                    "distinct_count": int(rec[f"c{i}_distinct"] or 0),
                    "percent_null": 100.0 * (n - count) / n if n else None,
                    "percent_zeros": 100.0 * int(rec[f"c{i}_zeros"] or 0) / n if n else None,
                    "frequent_items": None,
                    "_rows": n,
                }
            )
    return rows


def categorical_counts(engine: Any, df: Any, keys: list[str], columns: list[str]) -> pa.Table:
    """Rows per (keys..., column_name, item) with `count` (NULL items counted as NULL)."""
    F, _ = dataframe_api(df)
    pairs = F.array(
        *[F.struct(F.lit(c).alias("n"), F.col(c).cast("string").alias("v")) for c in columns]
    )
    long = df.select(*keys, F.explode(pairs).alias("kv")).select(
        *keys, F.col("kv.n").alias("column_name"), F.col("kv.v").alias("item")
    )
    return collect(engine, long.groupBy(*keys, "column_name", "item").count())


def numeric_histograms(engine: Any, df: Any, keys: list[str], specs: dict[str, Any]) -> pa.Table:
    """Rows per (keys..., column_name, bin) with `count`: each column cut by its `BinSpec`."""
    F, _ = dataframe_api(df)
    structs = []
    for c, spec in specs.items():
        z = (F.col(c).cast("double") - F.lit(spec.center)) / F.lit(spec.scale)
        # asinh(z) = sign(z) * ln(|z| + sqrt(z^2 + 1)): neither engine's API has asinh in common.
        t = F.signum(z) * F.log(F.abs(z) + F.sqrt(z * z + F.lit(1.0)))
        raw = F.floor((t - F.lit(spec.lo)) / F.lit(spec.width()))
        clipped = F.least(F.greatest(raw, F.lit(0)), F.lit(spec.bins - 1)).cast("long")
        structs.append(F.struct(F.lit(c).alias("n"), clipped.alias("b")))
    long = df.select(*keys, F.explode(F.array(*structs)).alias("kv")).select(
        *keys, F.col("kv.n").alias("column_name"), F.col("kv.b").alias("bin")
    )
    long = long.where(F.col("bin").isNotNull())
    return collect(engine, long.groupBy(*keys, "column_name", "bin").count())


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
        rows.append(
            {
                **dict(zip(keys, key[:-1], strict=True)),
                "column_name": key[-1],
                "data_type": "string",
                "count": count,
                "num_nulls": nulls,
                "distinct_count": len(items),
                "percent_null": 100.0 * nulls / n if n else None,
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
