"""Point-in-time feature joins, written once in the DataFrame API so they run on every engine.

For a row of the caller's DataFrame at time t, a lookup takes the latest feature row with
timestamp <= t (and >= t - lookback_window when given); with no such row the features are the
lookup's default values or null. A feature row from after t can never reach the result. A
lookup with no time of its own on a time-series table takes each key's latest row, as the online
store serves it, so the result still has one row per row of the caller's DataFrame.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from churnops.data.engines.api import dataframe_api

_PREFIX = "__fs_"


def join_features(
    df: Any,
    features: Any,
    *,
    lookup_keys: list[str],
    table_keys: list[str],
    outputs: dict[str, str],
    timestamp_lookup_key: str | None = None,
    timeseries_column: str | None = None,
    lookback_window: timedelta | None = None,
    default_values: dict[str, Any] | None = None,
) -> Any:
    """Left-join feature columns onto `df`, point-in-time when both timestamps are given.

    Args:
        df: the caller's DataFrame (labels, or rows to score).
        features: the feature table as a DataFrame in the same session.
        lookup_keys: columns of `df` matched, in order, against `table_keys`.
        table_keys: the feature table's primary keys.
        outputs: feature column -> output column name.
        timestamp_lookup_key: the time column of `df`; None: no point-in-time join.
        timeseries_column: the feature table's time column; given without a
            `timestamp_lookup_key`, each key's latest row is joined.
        lookback_window: oldest feature row allowed, relative to the row's time.
        default_values: output column -> value when nothing matches.

    Returns:
        `df`'s columns followed by the output columns, one row per row of `df`.
    """
    F, Window = dataframe_api(df)
    point_in_time = timestamp_lookup_key is not None and timeseries_column is not None
    if timeseries_column is not None and timestamp_lookup_key is None:
        newest = Window.partitionBy(*table_keys).orderBy(F.col(timeseries_column).desc())
        features = (
            features.withColumn(f"{_PREFIX}newest", F.row_number().over(newest))
            .where(F.col(f"{_PREFIX}newest") == 1)
            .drop(f"{_PREFIX}newest")
        )
    right_cols = [F.col(k).alias(f"{_PREFIX}k{i}") for i, k in enumerate(table_keys)]
    if point_in_time:
        right_cols.append(F.col(timeseries_column).alias(f"{_PREFIX}ts"))
    right_cols += [F.col(src).alias(out) for src, out in outputs.items()]
    right = features.select(*right_cols)

    condition = None
    for i, key in enumerate(lookup_keys):
        term = F.col(key) == F.col(f"{_PREFIX}k{i}")
        condition = term if condition is None else condition & term
    if point_in_time:
        ts, fts = F.col(timestamp_lookup_key), F.col(f"{_PREFIX}ts")
        condition = condition & (fts <= ts)
        if lookback_window is not None:
            seconds = int(lookback_window.total_seconds())
            condition = condition & (F.unix_timestamp(ts) - F.unix_timestamp(fts) <= seconds)
    joined = df.join(right, on=condition, how="left")

    if point_in_time:
        # rank, not row_number: duplicate rows of `df` tie and all survive; (key, ts) is unique
        # in a feature table, so each keeps exactly its latest feature row.
        latest = Window.partitionBy(*lookup_keys, timestamp_lookup_key).orderBy(
            F.col(f"{_PREFIX}ts").desc()
        )
        joined = joined.withColumn(f"{_PREFIX}rank", F.rank().over(latest)).where(
            F.col(f"{_PREFIX}rank") == 1
        )

    defaults = default_values or {}
    out_cols = [F.col(c) for c in df.columns]
    for out in outputs.values():
        col = F.col(out)
        if out in defaults and defaults[out] is not None:
            col = F.coalesce(col, F.lit(defaults[out]))
        out_cols.append(col.alias(out))
    return joined.select(*out_cols)
