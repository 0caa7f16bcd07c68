"""Monthly CDNOW feature table and the demo's point-in-time training set."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from churnops.data.feature_store import FeatureStoreError, OnlineStoreConfig, get_online_store
from churnops.data.feature_store.demo import run_feature_store_demo
from churnops.data.feature_store.timeseries import month_ends
from churnops.data.features import FEATURE_COLUMNS, compute_customer_features, compute_labels
from churnops.data.features.parity import compare_frames


def test_month_ends():
    assert month_ends(date(1997, 1, 1), date(1997, 3, 30)) == [date(1997, 1, 31), date(1997, 2, 28)]
    assert month_ends(date(1999, 12, 5), date(2000, 2, 29))[-1] == date(2000, 2, 29)
    with pytest.raises(FeatureStoreError, match="before start"):
        month_ends(date(2000, 1, 1), date(1999, 1, 1))


@pytest.mark.slow
def test_demo_training_set_matches_features_computed_at_the_cutoff(tmp_path, duckdb_engine):
    result = run_feature_store_demo(tmp_path)
    table = pq.read_table(result["training_set_path"])
    assert table.column_names == ["customer_id", "cutoff", *FEATURE_COLUMNS, "churn"]
    assert str(table.schema.field("churn").type) == "int32"

    # The 1997-09-30 snapshot is a month end, so point-in-time must give exactly the features
    # computed directly at the cutoff, and the labels of compute_labels.
    orders = duckdb_engine.read_parquet(tmp_path / "orders.parquet")
    cutoff = date(1997, 9, 30)
    direct = duckdb_engine.to_arrow(compute_customer_features(orders, cutoff))
    labels = duckdb_engine.to_arrow(compute_labels(orders, cutoff, 180))
    assert table.num_rows == labels.num_rows == 23_570
    assert (
        table.select(["customer_id", "churn"]).to_pylist()
        == labels.sort_by("customer_id").select(["customer_id", "churn"]).to_pylist()
    )
    # Parallel float sums may differ in the last bits between two runs: compare to 1e-9.
    columns = ["customer_id", *FEATURE_COLUMNS]
    assert compare_frames(table.select(columns), direct.select(columns)) == []

    online = get_online_store(OnlineStoreConfig(kind="sqlite", path=str(result["online_store"])))
    assert online.published_version(result["feature_table"]) == result["feature_table_version"]
    latest = online.read_one(result["feature_table"], "00001")
    assert latest["as_of"] == "1998-06-30" and latest["total_orders"] >= 1
