"""Synthetic predictions, baseline and labels tables with a known shift, for monitoring tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def predictions(
    windows: int,
    rows: int,
    features: int = 3,
    shift_at: int | None = None,
    shift: float = 1.0,
    seed: int = 0,
    start: int = 0,
    versions: tuple[str, ...] = ("1",),
) -> pa.Table:
    """`rows` per daily window; feature f0 gains `shift` from window `shift_at` on."""
    rng = np.random.default_rng(seed)
    parts = []
    for w in range(start, start + windows):
        x = rng.normal(size=(rows, features))
        if shift_at is not None and w >= shift_at:
            x[:, 0] += shift
        logit = x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows)
        p = 1 / (1 + np.exp(-logit))
        ts = START + dt.timedelta(days=w) + dt.timedelta(seconds=1)
        cols = {
            "request_id": [f"r{w}"] * rows,
            "timestamp": pa.array(
                [ts + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 80_000, rows)],
                pa.timestamp("us", tz="UTC"),
            ),
            "model_version": pa.array(rng.choice(versions, rows), pa.string()),
            "customer_id": [f"c{w}_{i}" for i in range(rows)],
            "probability": p,
            "prediction": (p >= 0.5).astype(np.int64),
            **{f"f{i}": x[:, i] for i in range(features)},
            "segment": pa.array(rng.choice(["a", "b"], rows), pa.string()),
        }
        parts.append(pa.table(cols))
    return pa.concat_tables(parts)


def baseline_for(rows: int, features: int = 3, seed: int = 9) -> pa.Table:
    """The training set with the model's predictions and labels (no time, no version)."""
    t = predictions(1, rows, features, seed=seed, start=-30)
    t = t.drop_columns(["request_id", "timestamp", "model_version"])
    return t.append_column(
        "churn", labels_for(predictions(1, rows, features, seed=seed, start=-30))["churn"]
    )


def labels_for(table: pa.Table, seed: int = 1) -> pa.Table:
    """A label per customer: churn drawn from its own probability (a calibrated model)."""
    rng = np.random.default_rng(seed)
    p = table["probability"].to_numpy()
    days = [t.date() for t in table["timestamp"].to_pylist()]
    return pa.table(
        {
            "customer_id": table["customer_id"],
            "cutoff": pa.array(days, pa.date32()),
            "churn": (rng.random(len(p)) < p).astype(np.int64),
        }
    )


def write(path: Path, table: pa.Table, mode: str = "append") -> str:
    write_deltalake(str(path), table, mode=mode)
    return str(path)
