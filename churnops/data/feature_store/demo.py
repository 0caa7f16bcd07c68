"""The feature-store part of `churnops demo`: monthly CDNOW feature table, a point-in-time
training set for the protocol cutoff, and a publish to the SQLite online store."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from churnops.data.engines import get_engine
from churnops.data.feature_store.base import FeatureLookup
from churnops.data.feature_store.config import FeatureStoreConfig, OnlineStoreConfig
from churnops.data.feature_store.local import LocalFeatureStore
from churnops.data.feature_store.online import get_online_store
from churnops.data.feature_store.timeseries import ENTITY_KEY, build_monthly_table
from churnops.data.features import FEATURE_COLUMNS, compute_labels
from churnops.data.sources import SourceConfig, prepare_orders

CUTOFF = date(1997, 9, 30)
HORIZON_DAYS = 180


def run_feature_store_demo(workdir: Path, cfg: FeatureStoreConfig | None = None) -> dict[str, Any]:
    """Build the monthly CDNOW feature table, a point-in-time training set, and publish it.

    Writes under `workdir`: `feature_store/` (Delta tables), `online/features.db` (SQLite) and
    `training_set.parquet` (columns `customer_id`, `cutoff`, the 18 features, `churn`).

    Returns:
        `training_set_path`, `feature_table`, `feature_table_version`, `online_store`,
        `online_store_kind`, `rows`, `churn_rate`, `published_rows`, `seconds`.
    """
    start = time.perf_counter()
    workdir = Path(workdir)
    cfg = cfg or FeatureStoreConfig(
        root=str(workdir / "feature_store"),
        online=OnlineStoreConfig(kind="sqlite", path=str(workdir / "online" / "features.db")),
    )
    orders_path = workdir / "orders.parquet"
    prepare_orders(SourceConfig(kind="cdnow"), orders_path)
    engine = get_engine(cfg.engine)
    try:
        store = LocalFeatureStore(cfg.root, engine=engine)
        orders = engine.read_parquet(orders_path)
        table = build_monthly_table(store, cfg.timeseries_table, orders)
        labels = compute_labels(orders, CUTOFF, HORIZON_DAYS)
        training_set = store.create_training_set(
            labels,
            [
                FeatureLookup(
                    cfg.timeseries_table,
                    lookup_key=ENTITY_KEY,
                    feature_names=list(FEATURE_COLUMNS),
                    timestamp_lookup_key="cutoff",
                )
            ],
            label="churn",
        )
        path = workdir / "training_set.parquet"
        rows = training_set.write_parquet(path, sort_by=[ENTITY_KEY])
    finally:
        engine.stop()
    online = get_online_store(cfg.online)
    try:
        published = store.publish_table(cfg.timeseries_table, online)
    finally:
        online.close()
    churn = rows["churn"].to_numpy()
    result = {
        "training_set_path": path,
        "feature_table": cfg.timeseries_table,
        "feature_table_version": table.version,
        "feature_table_rows": store._open(cfg.timeseries_table).count(),
        "online_store": cfg.online.path if cfg.online.kind == "sqlite" else cfg.online.url,
        "online_store_kind": cfg.online.kind,
        "online_store_config": cfg.online,
        "rows": rows.num_rows,
        "churn_rate": float(churn.mean()) if len(churn) else float("nan"),
        "published_rows": published.rows_written,
        "seconds": time.perf_counter() - start,
    }
    print(
        f"feature table {result['feature_table']} v{result['feature_table_version']}: "
        f"{result['feature_table_rows']:,} rows (monthly snapshots)\n"
        f"training set {path}: {result['rows']:,} rows as of {CUTOFF} (h={HORIZON_DAYS}), "
        f"churn rate {result['churn_rate']:.3f}\n"
        f"published {published.rows_written:,} rows ({published.mode}) to {cfg.online.kind} "
        f"{result['online_store']} in {result['seconds']:.1f}s"
    )
    return result
