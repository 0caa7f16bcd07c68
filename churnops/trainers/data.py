"""Training sets: load one (Parquet) into arrays, or build CDNOW's from the features job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from churnops.data.delta_tables import read_table
from churnops.data.features import FEATURE_COLUMNS

CDNOW_CUTOFF = date(1997, 9, 30)
CDNOW_HORIZON_DAYS = 180


@dataclass
class TrainingArrays:
    """A training set as arrays: raw features (NaN = missing), labels 0/1 and row ids."""

    x: np.ndarray  # float32 [N, F]
    y: np.ndarray  # int64 [N]
    ids: np.ndarray
    feature_columns: list[str]


def cdnow_training_set(path: str | Path, engine: Literal["duckdb", "spark"] = "duckdb") -> Path:
    """Build CDNOW's training set (cutoff 1997-09-30, horizon 180 days) at `path`.

    Columns `customer_id`, `cutoff`, the 18 `FEATURE_COLUMNS`, `churn` (int 0/1).
    """
    from churnops.data.sources import SourceConfig

    return build_training_set(
        path, SourceConfig(kind="cdnow"), CDNOW_CUTOFF, CDNOW_HORIZON_DAYS, engine=engine
    )


def build_training_set(
    path: str | Path,
    source: Any,
    cutoff: date,
    horizon_days: int,
    engine: Literal["duckdb", "spark"] = "duckdb",
) -> Path:
    """Features as of `cutoff` joined with churn labels over `horizon_days`, written at `path`.

    Args:
        path: the training-set Parquet to write (intermediate files go beside it).
        source: a `churnops.data.sources.SourceConfig` (any orders table the sources read).
        cutoff: features use orders up to and including this day.
        horizon_days: a customer churns when they order nothing in this many days after it.
        engine: "duckdb" or "spark".
    """
    from churnops.data.features.build import (
        FeaturesJobConfig,
        build_features,
        write_parquet_atomic,
    )

    path = Path(path)
    cfg = FeaturesJobConfig(
        source=source,
        as_of=cutoff,
        horizon_days=horizon_days,
        engine=engine,
        output_dir=str(path.parent / f"{path.stem}-features"),
    )
    built = build_features(cfg)
    features = pq.read_table(built.features_path)
    labels = pq.read_table(built.labels_path).select(["customer_id", "cutoff", "churn"])
    joined = labels.join(features.drop(["as_of"]), "customer_id", join_type="inner")
    columns = ["customer_id", "cutoff", *FEATURE_COLUMNS, "churn"]
    table = joined.select(columns).sort_by("customer_id")
    table = table.set_column(columns.index("churn"), "churn", table["churn"].cast(pa.int64()))
    write_parquet_atomic(table, path)
    return path


def load_training_arrays(
    path: str | Path,
    feature_columns: list[str],
    label_column: str = "churn",
    id_column: str = "customer_id",
) -> TrainingArrays:
    """Read a training-set Parquet; a missing column or a non-0/1 label is a clear error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data.path={str(path)!r}: no training set there")
    delta = None
    if (path / "_delta_log").is_dir():  # a Delta table: read its current version only
        from deltalake import DeltaTable

        delta = DeltaTable(str(path))
        schema = pa.schema(delta.schema().to_arrow())
    else:
        schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
    needed = [id_column, *feature_columns, label_column]
    missing = [c for c in needed if c not in schema.names]
    if missing:
        raise ValueError(
            f"data.path={str(path)!r}: missing column(s) {missing}; has {schema.names}"
        )
    table = read_table(delta, columns=needed) if delta else pq.read_table(path, columns=needed)
    x = np.column_stack(
        [table[c].cast(pa.float64()).to_numpy(zero_copy_only=False) for c in feature_columns]
    ).astype(np.float32)
    y = table[label_column].to_numpy(zero_copy_only=False)
    if len(y) == 0:
        raise ValueError(f"data.path={str(path)!r}: the training set has no rows")
    if np.isnan(y.astype(float)).any() or not np.isin(y, (0, 1)).all():
        bad = sorted(set(np.unique(y[~np.isin(y, (0, 1))]).tolist()))[:5]
        raise ValueError(f"{label_column}: expected 0/1 labels, found {bad}")
    return TrainingArrays(
        x=x,
        y=y.astype(np.int64),
        ids=table[id_column].to_numpy(zero_copy_only=False),
        feature_columns=list(feature_columns),
    )
