"""DatabricksFeatureStore offline: the calls and client objects it builds (no workspace here).

The official client is a cloud component we do not ship; these tests record what the adapter
hands it. What needs a workspace (the calls actually running) is not tested here.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from types import SimpleNamespace

import pytest

from churnops.data.feature_store import (
    FeatureFunction,
    FeatureLookup,
    FeatureStoreConfig,
    get_feature_store,
)
from churnops.data.feature_store.databricks import (
    DatabricksFeatureStore,
    from_client_table,
    to_client_lookup,
)


class Recorded:
    """Stands in for a client class: keeps the keyword arguments it was built with."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs


class RecordingClient:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def __getattr__(self, method):
        def call(**kwargs):
            self.calls.append((method, kwargs))
            if method in ("create_table", "get_table"):
                return SimpleNamespace(
                    name=kwargs["name"], table_id="abc", description="d",
                    primary_keys=["customer_id", "as_of"], partition_columns=[],
                    features=["customer_id", "as_of", "x"], creation_timestamp=0,
                    timestamp_keys=["as_of"], tags={"t": "1"},
                )  # fmt: skip
            return None

        return call


FE = SimpleNamespace(FeatureLookup=Recorded, FeatureFunction=Recorded)
DATABRICKS = {
    "backend": "databricks", "engine": "spark", "online": {"kind": "databricks"},
    "features_table": "main.churnops.f", "timeseries_table": "main.churnops.ts",
}  # fmt: skip


def test_lookups_translate_with_the_client_argument_names():
    lookup = FeatureLookup(
        "ml.churn.ts", "customer_id", feature_names=["x"], rename_outputs={"x": "y"},
        timestamp_lookup_key="cutoff", lookback_window=timedelta(days=30),
        default_values={"y": 0.0},
    )  # fmt: skip
    assert to_client_lookup(lookup, FE).kwargs == {
        "table_name": "ml.churn.ts",
        "lookup_key": "customer_id",
        "feature_names": ["x"],
        "rename_outputs": {"x": "y"},
        "timestamp_lookup_key": "cutoff",
        "lookback_window": timedelta(days=30),
        "default_values": {"y": 0.0},
    }
    # Unset arguments are left out, so older client versions accept the call.
    assert to_client_lookup(FeatureLookup("ml.churn.p", "customer_id"), FE).kwargs == {
        "table_name": "ml.churn.p",
        "lookup_key": "customer_id",
    }
    fn = FeatureFunction(udf_name="ml.churn.ratio", input_bindings={"a": "x"}, output_name="r")
    assert to_client_lookup(fn, FE).kwargs == {
        "udf_name": "ml.churn.ratio",
        "input_bindings": {"a": "x"},
        "output_name": "r",
    }


def test_calls_reach_the_client_with_its_keywords():
    client = RecordingClient()
    store = DatabricksFeatureStore(client=client)
    table = store.create_table(
        "ml.churn.ts", "customer_id", df="DF", timeseries_column="as_of", tags={"t": "1"}
    )
    assert (table.primary_keys, table.timeseries_column, table.features) == (
        ["customer_id"],
        "as_of",
        ["x"],
    )
    store.write_table("ml.churn.ts", "DF2")
    store.read_table("ml.churn.ts", as_of_delta_timestamp="2024-01-01")
    store.drop_table("ml.churn.ts")
    names = [c[0] for c in client.calls]
    assert names == ["create_table", "write_table", "read_table", "drop_table"]
    create = client.calls[0][1]
    assert create["primary_keys"] == ["customer_id", "as_of"]  # UC wants the time key in the PK
    assert create["timeseries_column"] == "as_of"
    assert client.calls[1][1] == {"name": "ml.churn.ts", "df": "DF2", "mode": "merge"}
    assert client.calls[2][1] == {"name": "ml.churn.ts", "as_of_delta_timestamp": "2024-01-01"}


def test_from_client_table_splits_keys_and_time():
    t = from_client_table(RecordingClient().get_table(name="ml.churn.ts"))
    assert t.key_columns == ["customer_id", "as_of"] and t.tags == {"t": "1"}


@pytest.mark.skipif(
    importlib.util.find_spec("databricks.feature_engineering") is not None,
    reason="the official client is installed",
)
def test_missing_client_says_how_to_install_it():
    store = get_feature_store(FeatureStoreConfig.model_validate(DATABRICKS))
    assert isinstance(store, DatabricksFeatureStore)
    with pytest.raises(ImportError, match="pip install databricks-feature-engineering"):
        store.get_table("ml.churn.ts")
