"""feature_engineering: the monthly Delta table, the point-in-time training set, the publish."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from churnops.data.feature_store import LocalFeatureStore, OnlineStoreConfig, get_online_store
from churnops.data.features import FEATURE_COLUMNS
from churnops.pipelines.tasks.features import FeatureEngineeringInputs

pytestmark = pytest.mark.slow


def test_builds_the_table_and_training_set_and_publishes_the_newest_snapshot(features):
    table = pq.read_table(features.training_set)
    assert table.column_names == ["customer_id", "cutoff", *FEATURE_COLUMNS, "churn"]
    assert str(table.schema.field("churn").type) == "int64"
    assert table.num_rows == features.rows > 0
    assert set(table["cutoff"].to_pylist()) == {__import__("datetime").date(1997, 9, 30)}
    assert features.snapshots == 18  # month ends 1997-01 .. 1998-06 (as_of is one of them)
    store = LocalFeatureStore(features.feature_store_root)
    assert store.get_table(features.feature_table).version == features.feature_table_version
    online = get_online_store(OnlineStoreConfig(**features.online))
    try:
        assert online.info(features.feature_table).version == features.feature_table_version
        customer = table["customer_id"][0].as_py()
        assert online.read_one(features.feature_table, customer)["as_of"] == "1998-06-30"
    finally:
        online.close()
    assert features.published_rows >= features.rows


def test_inputs_are_strict_and_name_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="horizon_days"):
        FeatureEngineeringInputs(horizon_days=0)
    with pytest.raises(ValidationError, match="extra"):
        FeatureEngineeringInputs(as_off="1997-09-30")
