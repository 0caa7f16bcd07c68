"""On-demand features: one registered function, the same values in training and serving."""

from __future__ import annotations

import pyarrow as pa
import pytest

from churnops.data.feature_store import (
    FeatureFunction,
    FeatureLookup,
    FeatureStoreError,
    OnlineStoreConfig,
    get_online_store,
    register_function,
)
from churnops.data.feature_store.frames import to_arrow
from tests.data.feature_store.conftest import TABLE, d


@register_function("ml.churn.x_per_n")
def x_per_n(x: float | None, n: int | None) -> float | None:
    return None if x is None or not n else x / n


RATIO = FeatureFunction(
    udf_name="ml.churn.x_per_n", input_bindings={"x": "x", "n": "n"}, output_name="ratio"
)


def test_function_gives_the_same_value_in_training_and_serving(ts_store, duckdb_engine, tmp_path):
    labels = duckdb_engine.from_arrow(
        pa.table({"customer_id": ["a", "b"], "cutoff": [d("2020-03-31")] * 2, "churn": [0, 1]})
    )
    lookups = [FeatureLookup(TABLE, "customer_id", timestamp_lookup_key="cutoff"), RATIO]
    train = to_arrow(ts_store.create_training_set(labels, lookups, "churn").load_df())
    train = train.sort_by("customer_id").to_pylist()
    assert [r["ratio"] for r in train] == [20200331.0 / 2, 20200315.0 / 4]
    assert list(train[0])[-2:] == ["ratio", "churn"]

    online = get_online_store(OnlineStoreConfig(kind="sqlite", path=str(tmp_path / "o.db")))
    ts_store.publish_table(TABLE, online)
    served = RATIO.evaluate_row(online.read_one(TABLE, "a"))  # what the served pyfunc calls
    assert served == train[0]["ratio"]


def test_unknown_function_and_missing_inputs_are_errors(ts_store, duckdb_engine):
    with pytest.raises(FeatureStoreError, match="no function registered"):
        FeatureFunction(udf_name="ml.churn.nope").evaluate_row({})
    labels = duckdb_engine.from_arrow(pa.table({"customer_id": ["a"], "churn": [0]}))
    bad = FeatureFunction(udf_name="ml.churn.x_per_n", input_bindings={"x": "x", "n": "n"})
    with pytest.raises(FeatureStoreError, match="neither in the DataFrame"):
        ts_store.create_training_set(labels, [bad], "churn").load_df()
