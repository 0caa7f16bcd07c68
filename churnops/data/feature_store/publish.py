"""Publish a feature table to an online store: the latest row per key, full or incremental.

Incremental publishing compares the latest-row-per-key view at the last published Delta version
with the one now, and writes only the rows that differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from churnops.data.delta_tables import arrow_dataset
from churnops.data.feature_store.base import FeatureStoreError

PUBLISH_MODES = ("incremental", "full")


@dataclass(frozen=True)
class PublishResult:
    """What a publish did."""

    table: str
    online_store: str
    mode: str  # full | incremental | unchanged
    version: int
    rows_written: int
    seconds: float


def _latest_sql(view: str, keys: list[str], ts: str | None) -> str:
    if ts is None:
        return f"SELECT * FROM {view}"
    part = ", ".join(f'"{k}"' for k in keys)
    latest = f'row_number() OVER (PARTITION BY {part} ORDER BY "{ts}" DESC)'
    return f"SELECT * FROM {view} QUALIFY {latest} = 1"


def publish_table(
    store: Any, name: str, online_store: Any, mode: str = "incremental"
) -> PublishResult:
    """Copy the latest row per primary key of `name` from a `LocalFeatureStore` online.

    Args:
        store: the `LocalFeatureStore` holding the table.
        name: the feature table.
        online_store: an `OnlineStore` (SQLite or Redis).
        mode: `incremental` writes only rows changed since the last publish (the first publish,
            or one after a schema change, is full); `full` rewrites the table atomically.
    """
    if mode not in PUBLISH_MODES:
        raise FeatureStoreError(f"publish mode={mode!r}: expected one of {PUBLISH_MODES}")
    start = time.perf_counter()
    table = store.get_table(name)
    keys, ts = table.primary_keys, table.timeseries_column
    now = store._open(name, version=table.version)
    last = online_store.info(name)
    con = duckdb.connect()
    try:
        con.register("now_rows", arrow_dataset(now))
        latest_now = _latest_sql("now_rows", keys, ts)
        columns_now = [c for c in now.schema().to_arrow().names if c not in keys]
        incremental = (
            mode == "incremental"
            and last is not None
            and last.version <= table.version
            and last.key_columns == keys
            and last.columns == columns_now
        )
        if incremental and last.version == table.version:
            return PublishResult(name, online_store.kind, "unchanged", table.version, 0, 0.0)
        if incremental:
            then = store._open(name, version=last.version)
            con.register("then_rows", arrow_dataset(then))
            then_names = then.schema().to_arrow().names
            if then_names != now.schema().to_arrow().names:
                incremental = False
        if incremental:
            sql = f"{latest_now} EXCEPT ({_latest_sql('then_rows', keys, ts)})"
        else:
            sql = latest_now
        rows: pa.Table = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    rows = rows.select(keys + columns_now)
    written = online_store.write_rows(
        name, keys, rows, version=table.version, replace=not incremental
    )
    return PublishResult(
        name,
        online_store.kind,
        "incremental" if incremental else "full",
        table.version,
        written,
        time.perf_counter() - start,
    )
