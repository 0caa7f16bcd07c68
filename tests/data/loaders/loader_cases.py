"""Helpers for the loader tests: a training set whose first feature is the row id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = ["row_id", "f1", "f2"]
LABEL = "churn"
ROWS = 1003  # odd on purpose: ranks get unequal shares and the last batch is short


def write_training_set(
    folder: Path, rows: int = ROWS, files: int = 2, row_group: int = 100
) -> Path:
    """`files` Parquet files of `row_group`-row groups; row_id runs 0..rows-1 across them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ids = np.arange(rows)
    for i, part in enumerate(np.array_split(ids, files)):
        table = pa.table(
            {
                "customer_id": [f"c{j}" for j in part],
                "row_id": part.astype(np.int64),
                "f1": rng.normal(size=len(part)),
                "f2": rng.random(len(part)).astype(np.float32),
                LABEL: (part % 2).astype(np.int32),
            }
        )
        pq.write_table(table, folder / f"part-{i:03d}.parquet", row_group_size=row_group)
    return folder


def epoch_ids(loader) -> list[int]:
    """The row ids of one epoch, in order, checking each batch's shapes and dtypes."""
    ids: list[int] = []
    for x, y in loader:
        assert x.dtype.is_floating_point and str(x.dtype) == "torch.float32"
        assert str(y.dtype) == "torch.float32"
        assert x.ndim == 2 and x.shape[1] == len(FEATURES) and y.shape == (x.shape[0],)
        # The label is row_id % 2: rows and labels stay paired through every shuffle.
        assert (y == x[:, 0] % 2).all()
        ids += x[:, 0].long().tolist()
    return ids
