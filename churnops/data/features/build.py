"""The features job: orders source -> clean orders -> features and labels as of a cutoff."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from churnops.config import StrictConfig
from churnops.data.engines import EngineConfig, get_engine
from churnops.data.features.customer import FEATURE_COLUMNS, compute_customer_features
from churnops.data.features.labels import compute_labels
from churnops.data.sources import RejectReport, SourceConfig, prepare_orders


class FeaturesJobConfig(StrictConfig):
    """What `churnops features build` computes, on which engine, and where it writes."""

    source: SourceConfig = Field(default_factory=SourceConfig)
    as_of: date = date(1997, 9, 30)
    horizon_days: int = Field(default=180, gt=0)
    engine: EngineConfig = Field(default_factory=EngineConfig)  # `engine=spark` is shorthand
    output_dir: str = ".churnops/features"


@dataclass
class FeaturesBuild:
    """What a features build produced."""

    features_path: Path
    labels_path: Path
    orders_path: Path
    customers: int
    features: int
    churn_rate: float
    seconds: float
    report: RejectReport


def build_features(cfg: FeaturesJobConfig, engine=None) -> FeaturesBuild:
    """Run the features job; pass `engine` to reuse a running one (tests, notebooks)."""
    start = time.perf_counter()
    out = Path(cfg.output_dir)
    orders_path = out / "orders.parquet"
    report = prepare_orders(cfg.source, orders_path)
    owned = engine is None
    engine = engine or get_engine(cfg.engine)
    try:
        orders = engine.read_parquet(orders_path)
        features = engine.to_arrow(compute_customer_features(orders, cfg.as_of))
        labels = engine.to_arrow(compute_labels(orders, cfg.as_of, cfg.horizon_days))
    finally:
        if owned:
            engine.stop()
    features = features.sort_by("customer_id")
    labels = labels.sort_by("customer_id")
    stem = f"{cfg.as_of.isoformat()}"
    features_path = out / f"features-{stem}.parquet"
    labels_path = out / f"labels-{stem}-h{cfg.horizon_days}.parquet"
    write_parquet_atomic(features, features_path)
    write_parquet_atomic(labels, labels_path)
    churn = labels["churn"].to_numpy()
    return FeaturesBuild(
        features_path=features_path,
        labels_path=labels_path,
        orders_path=orders_path,
        customers=features.num_rows,
        features=len(FEATURE_COLUMNS),
        churn_rate=float(churn.mean()) if len(churn) else float("nan"),
        seconds=time.perf_counter() - start,
        report=report,
    )


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Write through a temporary name so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
