"""The features job: orders source -> clean orders -> features and labels as of a cutoff."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field

from churnops.config import StrictConfig
from churnops.data import storage
from churnops.data.datasets import cdnow_cutoff
from churnops.data.engines import EngineConfig, engine_for
from churnops.data.features.customer import FEATURE_COLUMNS, compute_customer_features
from churnops.data.features.labels import compute_labels
from churnops.data.sources import RejectReport, SourceConfig, prepare_orders


class FeaturesJobConfig(StrictConfig):
    """What `churnops features build` computes, on which engine, and where it writes."""

    source: SourceConfig = Field(default_factory=SourceConfig)
    as_of: date = Field(default_factory=cdnow_cutoff)
    horizon_days: int = Field(default=180, gt=0)
    engine: EngineConfig = Field(default_factory=EngineConfig)  # `engine=spark` is shorthand
    output_dir: str = ".churnops/features"


@dataclass
class FeaturesBuild:
    """What a features build produced."""

    features_path: Path | str  # a Path, or an object-store URI
    labels_path: Path | str
    orders_path: Path | str
    customers: int
    features: int
    churn_rate: float
    seconds: float
    report: RejectReport


def build_features(cfg: FeaturesJobConfig, engine=None) -> FeaturesBuild:
    """Run the features job; pass `engine` to reuse a running one (tests, notebooks)."""
    start = time.perf_counter()
    out = storage.location(cfg.output_dir)  # a folder or an object-store URI
    orders_path = storage.native(out.join("orders.parquet"))
    report = prepare_orders(cfg.source, orders_path)
    stem = f"{cfg.as_of.isoformat()}"
    features_path = storage.native(out.join(f"features-{stem}.parquet"))
    labels_path = storage.native(out.join(f"labels-{stem}-h{cfg.horizon_days}.parquet"))
    with engine_for(cfg.engine, engine) as running:
        orders = storage.read_parquet_frame(running, orders_path)
        customers = write_frame(
            compute_customer_features(orders, cfg.as_of), features_path, ["customer_id"]
        )
        write_frame(compute_labels(orders, cfg.as_of, cfg.horizon_days), labels_path,
                    ["customer_id"])  # fmt: skip
    churn = storage.read_parquet(labels_path, columns=["churn"])["churn"].to_numpy()
    return FeaturesBuild(
        features_path=features_path,
        labels_path=labels_path,
        orders_path=orders_path,
        customers=customers,
        features=len(FEATURE_COLUMNS),
        churn_rate=float(churn.mean()) if len(churn) else float("nan"),
        seconds=time.perf_counter() - start,
        report=report,
    )


def write_frame(df: Any, path: str | Path, order_by: list[str]) -> int:
    """Write an engine DataFrame to one Parquet file sorted by `order_by`; returns its rows.

    DuckDB sorts and writes the file itself (spilling past its memory limit), so the table never
    sits whole in Python; a Spark frame comes back through Arrow, sorted by Spark.
    """
    from churnops.data.feature_store.frames import frame_kind, to_arrow

    if frame_kind(df) == "duckdb":
        from churnops.data.engines.duckdb import copy_to_parquet

        if not storage.is_local(path):  # DuckDB writes a local file, then it is uploaded
            with storage.staged_output(path) as local:
                return copy_to_parquet(df, local, order_by=order_by)
        return copy_to_parquet(df, path, order_by=order_by)
    table = to_arrow(df.orderBy(*order_by))
    storage.write_parquet_atomic(table, path)
    return table.num_rows
