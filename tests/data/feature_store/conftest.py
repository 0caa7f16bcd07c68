"""Feature-store fixtures: a store under a temp folder, hand-made time-series tables."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from churnops.data.feature_store import LocalFeatureStore

TABLE = "ml.churn.customer_ts"


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture
def store(tmp_path, duckdb_engine):
    return LocalFeatureStore(tmp_path / "fs", engine=duckdb_engine)


@pytest.fixture
def timeline() -> pa.Table:
    """Customer `a` has monthly snapshots, `b` two, `c` one in the future of every label.

    `x` encodes the snapshot's own date (yyyymmdd) so a test can see which row was taken.
    """
    rows = [
        ("a", "2020-01-31"),
        ("a", "2020-02-29"),
        ("a", "2020-03-31"),
        ("b", "2020-01-15"),
        ("b", "2020-03-15"),
        ("c", "2021-01-01"),
    ]
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "as_of": [d(r[1]) for r in rows],
            "x": [float(r[1].replace("-", "")) for r in rows],
            "n": pa.array([i for i in range(len(rows))], pa.int64()),
        }
    )


@pytest.fixture
def ts_store(store, timeline):
    store.create_table(TABLE, "customer_id", df=timeline, timeseries_column="as_of")
    return store
