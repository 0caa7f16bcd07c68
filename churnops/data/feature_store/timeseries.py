"""Time-series feature tables: the customer features computed at many cutoffs, keyed by
(`customer_id`, `as_of`), so point-in-time lookups can pick the snapshot a label row may see."""

from __future__ import annotations

import calendar
from contextlib import nullcontext
from datetime import date
from typing import Any

import pyarrow as pa

from churnops.data.engines.api import dataframe_api
from churnops.data.feature_store.base import FeatureStoreError, FeatureTable
from churnops.data.feature_store.frames import frame_kind, staged, to_arrow
from churnops.data.feature_store.local import LocalFeatureStore
from churnops.data.features.customer import compute_customer_snapshots

ENTITY_KEY = "customer_id"
TIMESERIES_COLUMN = "as_of"


def month_ends(start: date, end: date) -> list[date]:
    """Every month's last day from `start`'s month up to and including `end`."""
    if end < start:
        raise FeatureStoreError(f"month_ends: end={end} is before start={start}")
    out: list[date] = []
    year, month = start.year, start.month
    while True:
        last = date(year, month, calendar.monthrange(year, month)[1])
        if last > end:
            return out
        out.append(last)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def order_span(orders: Any) -> tuple[date, date]:
    """The first and last order dates of an orders DataFrame."""
    F, _ = dataframe_api(orders)
    row = orders.agg(F.min("order_date").alias("lo"), F.max("order_date").alias("hi")).collect()[0]
    return row["lo"], row["hi"]


def snapshot_frame(orders: Any, cutoffs: list[date]) -> Any:
    """Customer features at each cutoff, stacked and sorted by (`customer_id`, `as_of`): an
    engine DataFrame, computed when it is read (`write_snapshots` streams it into the store)."""
    if not cutoffs:
        raise FeatureStoreError("cutoffs: expected at least one date")
    return compute_customer_snapshots(orders, cutoffs).orderBy(ENTITY_KEY, TIMESERIES_COLUMN)


def compute_snapshots(orders: Any, cutoffs: list[date]) -> pa.Table:
    """`snapshot_frame` collected to one Arrow table: columns `customer_id`, `as_of`, features."""
    frame = snapshot_frame(orders, cutoffs)
    if frame_kind(frame) == "duckdb":
        # The engine stacks and sorts (spilling past its memory limit) and hands Arrow over
        # once: no per-cutoff parts held beside their concatenation and its sorted copy.
        from churnops.data.engines.duckdb import record_batches

        return record_batches(frame).read_all()
    return to_arrow(frame)


def write_snapshots(
    store: Any, name: str, snapshots: Any, description: str | None = None
) -> FeatureTable:
    """Create the time-series table from `snapshots`, or merge them into it when it exists.

    `snapshots` is whatever the store writes: an engine DataFrame (`snapshot_frame`), a
    Parquet path or a `pyarrow.RecordBatchReader`, which the local store writes batch by batch,
    or an Arrow table. For the local store a DuckDB DataFrame is staged in a Parquet file
    first (`frames.staged`), so its query and the write do not hold memory at once.
    """
    local = isinstance(store, LocalFeatureStore)
    with staged(snapshots) if local else nullcontext(snapshots) as rows:
        if name in store.list_tables():
            store.write_table(name, rows)
            return store.get_table(name)
        return store.create_table(
            name,
            primary_keys=ENTITY_KEY,
            df=rows,
            timeseries_column=TIMESERIES_COLUMN,
            description=description,
            tags={"entity": "customer", "source": "churnops.data.features"},
        )


def build_monthly_table(
    store: Any, name: str, orders: Any, until: date | None = None
) -> FeatureTable:
    """Monthly snapshots (every month end from the first order to `until` or the last order).

    Args:
        store: a `LocalFeatureStore` (or any store with the same calls).
        name: the time-series feature table.
        orders: the engine's DataFrame of canonical orders.
        until: last cutoff allowed; default the last order date.
    """
    first, last = order_span(orders)
    cutoffs = month_ends(first, until or last)
    return write_snapshots(
        store,
        name,
        snapshot_frame(orders, cutoffs),
        description=f"customer features at month ends {cutoffs[0]}..{cutoffs[-1]}",
    )
