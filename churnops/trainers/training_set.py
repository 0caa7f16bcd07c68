"""The one training-set builder: orders -> monthly feature table in the feature store -> labels at
a cutoff -> point-in-time `create_training_set` -> Parquet. Train, the tuner, the benchmarks and
the pipeline's feature task all build their training sets here."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from churnops.data.engines import EngineConfig, get_engine
from churnops.data.engines.api import dataframe_api
from churnops.data.feature_store.base import FeatureLookup
from churnops.data.feature_store.local import LocalFeatureStore
from churnops.data.feature_store.timeseries import (
    ENTITY_KEY,
    compute_snapshots,
    month_ends,
    order_span,
    write_snapshots,
)
from churnops.data.features import FEATURE_COLUMNS, compute_labels
from churnops.data.sources import prepare_orders
from churnops.trainers.config import DataConfig

TIMESTAMP_KEY = "cutoff"  # the labels' column the point-in-time lookup matches snapshots to


@dataclass
class TrainingSetBuild:
    """What a build wrote: the Parquet, the feature table version it read, and its shape."""

    path: Path
    orders_path: Path
    feature_store_root: Path
    feature_table: str
    feature_table_version: int
    snapshots: list[date]
    rows: int
    churn_rate: float
    as_of: date
    horizon_days: int
    seconds: float


def snapshot_cutoffs(first: date, as_of: date, until: date | None = None) -> list[date]:
    """`as_of`, plus every month end from the first order's month to `until` when given.

    `as_of` is always a snapshot, so a cutoff inside a month sees features as of that very day
    rather than the month end before it.
    """
    if as_of < first:
        raise ValueError(f"data.as_of={as_of}: before the first order ({first}); no customers yet")
    cutoffs = {as_of} | (set(month_ends(first, until)) if until and until >= first else set())
    return sorted(cutoffs)


def build_training_set(
    path: str | Path,
    data: DataConfig,
    feature_store_root: str | Path,
    feature_table: str = "churnops.cdnow.customer_features_monthly",
    engine: EngineConfig | str = "duckdb",
    monthly_history: bool = False,
) -> TrainingSetBuild:
    """Build the training set for `data.source` at `data.as_of` / `data.horizon_days` at `path`.

    The orders are cleaned to `<path stem>-orders.parquet`; customer features at `as_of` (and
    at every month end through the last order, with `monthly_history`) are merged into the Delta
    feature table `feature_table` under `feature_store_root`; labels (`customer_id`, `cutoff`,
    `churn` int64) are joined to the latest snapshot at or before their cutoff with
    `create_training_set`; the result is written atomically as Parquet sorted by `customer_id`.

    Args:
        path: the training-set Parquet to write.
        data: source, `as_of`, `horizon_days`, label column.
        feature_store_root: where the feature store's Delta tables live.
        feature_table: the monthly (time-series) feature table to write and look up.
        engine: the engine setting (`EngineConfig`) or its name, "duckdb" or "spark".
        monthly_history: also snapshot every month end through the last order (the pipeline
            does, so the table holds a monthly history and its newest rows can be published
            for serving); by default only `as_of` is computed.

    Returns:
        A `TrainingSetBuild`.
    """
    start = time.perf_counter()
    path = Path(path)
    orders_path = path.with_name(f"{path.stem}-orders.parquet")
    prepare_orders(data.source, orders_path)
    runner = get_engine(engine)
    try:
        store = LocalFeatureStore(feature_store_root, engine=runner)
        orders = runner.read_parquet(orders_path)
        first, last = order_span(orders)
        if first is None:
            raise ValueError(f"data.source: {data.source.kind} has no orders")
        cutoffs = snapshot_cutoffs(first, data.as_of, last if monthly_history else None)
        table = write_snapshots(
            store, feature_table, compute_snapshots(orders, cutoffs),
            description=f"customer features at {len(cutoffs)} cutoffs, {cutoffs[0]}..{cutoffs[-1]}",
        )  # fmt: skip
        labels = compute_labels(orders, data.as_of, data.horizon_days)
        F, _ = dataframe_api(labels)
        # One label dtype everywhere (int64), whatever the engine's `int` is.
        labels = labels.select(
            ENTITY_KEY, TIMESTAMP_KEY, F.col("churn").cast("bigint").alias(data.label_column)
        )
        training_set = store.create_training_set(
            labels,
            [
                FeatureLookup(
                    feature_table,
                    lookup_key=ENTITY_KEY,
                    feature_names=list(FEATURE_COLUMNS),
                    timestamp_lookup_key=TIMESTAMP_KEY,
                )
            ],
            label=data.label_column,
        )
        rows = training_set.write_parquet(path, sort_by=[ENTITY_KEY])
    finally:
        runner.stop()
    churn = rows[data.label_column].to_numpy()
    return TrainingSetBuild(
        path=path,
        orders_path=orders_path,
        feature_store_root=Path(feature_store_root),
        feature_table=feature_table,
        feature_table_version=table.version,
        snapshots=cutoffs,
        rows=rows.num_rows,
        churn_rate=float(churn.mean()) if len(churn) else float("nan"),
        as_of=data.as_of,
        horizon_days=data.horizon_days,
        seconds=time.perf_counter() - start,
    )


def default_training_set(workdir: str | Path, data: DataConfig) -> Path:
    """Where `train` keeps the training set it builds for `data` when `data.path` is null.

    The name carries the cutoff, the horizon and a digest of the source config, so a changed
    source is never answered by a stale file.
    """
    source = hashlib.sha256(data.source.model_dump_json().encode()).hexdigest()[:8]
    name = f"training_set-{data.name}-{data.as_of}-h{data.horizon_days}-{source}.parquet"
    return Path(workdir) / name


def ensure_training_set(
    workdir: str | Path, data: DataConfig, engine: EngineConfig | str = "duckdb"
) -> Path:
    """`data.path`, or the training set for `data` built once under `workdir`."""
    if data.path:
        return Path(data.path)
    path = default_training_set(workdir, data)
    if not path.exists():
        table = f"churnops.{data.name}.customer_features_monthly"
        build_training_set(path, data, Path(workdir) / "feature_store", table, engine=engine)
    return path
