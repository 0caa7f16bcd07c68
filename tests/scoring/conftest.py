"""Scoring fixtures: MLflow on SQLite in a temp folder, a small time-series feature table."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from churnops.data.feature_store import LocalFeatureStore

TABLE = "ml.churn.customer_ts"


def snapshots() -> pa.Table:
    """Monthly snapshots; `x` encodes the snapshot's own date so a test sees which row it got."""
    rows = [
        ("a", "2020-01-31", 1),
        ("a", "2020-02-29", 2),
        ("a", "2020-03-31", 3),
        ("b", "2020-01-15", 1),
        ("b", "2020-03-15", 5),
        ("c", "2020-01-10", 9),
        ("d", "2020-02-01", 4),
    ]
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "as_of": [date.fromisoformat(r[1]) for r in rows],
            "x": [float(r[1].replace("-", "")) / 1e7 for r in rows],
            "n": pa.array([r[2] for r in rows], pa.int64()),
        }
    )


def labels() -> pa.Table:
    return pa.table(
        {
            "customer_id": ["a", "a", "b", "b", "c", "d", "a", "c"],
            "cutoff": [date(2020, 2, 15), date(2020, 4, 1), date(2020, 2, 1), date(2020, 3, 20),
                       date(2020, 2, 1), date(2020, 3, 1), date(2020, 3, 1), date(2020, 3, 1)],
            "churn": pa.array([0, 1, 0, 1, 1, 0, 1, 0], pa.int64()),
        }
    )  # fmt: skip


@pytest.fixture
def ts_store(tmp_path, duckdb_engine):
    store = LocalFeatureStore(tmp_path / "fs", engine=duckdb_engine)
    store.create_table(TABLE, "customer_id", df=snapshots(), timeseries_column="as_of")
    return store
