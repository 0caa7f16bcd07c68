"""Training sets as arrays: read one (Parquet or Delta) for the fit (built in `training_set.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from churnops.data.delta_tables import read_table


@dataclass
class TrainingArrays:
    """A training set as arrays: raw features (NaN = missing), labels 0/1 and row ids."""

    x: np.ndarray  # float32 [N, F]
    y: np.ndarray  # int64 [N]
    ids: np.ndarray
    feature_columns: list[str]


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
