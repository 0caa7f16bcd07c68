"""Online lookup fills rows from a real online store; request values win; unknown keys per row."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest

from churnops.models.feature_spec import FeatureSpec, TableLookupSpec
from churnops.serving.config import FeatureLookupConfig
from churnops.serving.lookup import FeatureLookupSpec, OnlineFeatureLookup, RequestError

TABLE = "churnops.test.features"
STORED = pa.table(
    {
        "customer_id": ["c1", "c2", "17"],
        "as_of": ["1997-09-30"] * 3,
        "total_orders": [3.0, 1.0, 9.0],
        "total_spent": [30.0, None, 90.0],
    }
)
FEATURES = ("total_orders", "total_spent")


def _sqlite(tmp_path):
    from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore

    return SQLiteOnlineStore(tmp_path / "online.db")


def _redis(tmp_path):
    redis = pytest.importorskip("redis")
    from churnops.data.feature_store.online.redis import RedisOnlineStore

    store = RedisOnlineStore(prefix=f"churnops-test:{uuid.uuid4().hex}:")
    try:
        store._client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return store


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.services)])
def store(request, tmp_path):
    store = _sqlite(tmp_path) if request.param == "sqlite" else _redis(tmp_path)
    store.write_rows(TABLE, ["customer_id"], STORED, version=1, replace=True)
    yield store
    store.drop(TABLE)
    store.close()


def _lookup(store, table=TABLE, **kw):
    cfg = FeatureLookupConfig(table=table, features=list(FEATURES), **kw)
    return OnlineFeatureLookup(FeatureLookupSpec.from_config(cfg, []), store)


def test_fills_missing_features_and_request_values_win(store):
    rows = [{"customer_id": "c1"}, {"customer_id": "c2", "total_orders": 42.0}]
    errors = _lookup(store).complete(rows)
    assert errors == [None, None]
    assert rows[0] == {"customer_id": "c1", "total_orders": 3.0, "total_spent": 30.0}
    assert rows[1] == {"customer_id": "c2", "total_orders": 42.0, "total_spent": None}


def test_whole_rows_skip_the_store_and_integer_keys_match(store):
    rows = [{"total_orders": 1.0, "total_spent": 2.0}, {"customer_id": 17}]
    assert _lookup(store).complete(rows) == [None, None]
    assert rows[0] == {"total_orders": 1.0, "total_spent": 2.0}
    assert rows[1]["total_orders"] == 9.0


def test_unknown_key_is_a_per_row_error(store):
    rows = [{"customer_id": "nobody"}, {"customer_id": "c1"}]
    errors = _lookup(store).complete(rows)
    assert errors[0] == f"customer_id='nobody' is not in online feature table {TABLE!r}"
    assert errors[1] is None and rows[1]["total_orders"] == 3.0


def test_unknown_key_gets_defaults_when_configured(store):
    rows = [{"customer_id": "nobody", "total_spent": 5.0}]
    errors = _lookup(store, on_missing="defaults", defaults={"total_orders": 0.0}).complete(rows)
    assert errors == [None]
    assert rows[0] == {"customer_id": "nobody", "total_orders": 0.0, "total_spent": 5.0}


def test_row_without_features_or_key_is_bad_input(store):
    with pytest.raises(RequestError, match=r"row 0: missing features .* no 'customer_id'"):
        _lookup(store).complete([{"total_orders": 1.0}])


def test_unpublished_table_is_a_lookup_error(tmp_path):
    store = _sqlite(tmp_path)
    lookup = _lookup(store, table="churnops.no.table")
    with pytest.raises(LookupError, match="is not published"):
        lookup.complete([{"customer_id": "c1"}])


def test_a_churnops_model_brings_its_own_tables_keys_and_names(store):
    # The model's feature spec, not the YAML, says which table, key and output names.
    spec = FeatureSpec(
        ["orders", "spent"],
        lookups=[
            TableLookupSpec(
                TABLE, ["customer_id"], {"total_orders": "orders", "total_spent": "spent"},
                default_values={"orders": -1.0},
            )
        ],
    )  # fmt: skip
    lookup_spec = FeatureLookupSpec.from_model(spec, FeatureLookupConfig(table="ignored"))
    assert lookup_spec.table_names == [TABLE]
    rows = [{"customer_id": 17}, {"customer_id": "nobody"}]
    errors = OnlineFeatureLookup(lookup_spec, store).complete(rows)
    assert rows[0] == {"customer_id": 17, "orders": 9.0, "spent": 90.0}
    assert errors == [None, f"customer_id='nobody' is not in online feature table {TABLE!r}"]
    # on_missing: defaults takes the spec's defaults, the YAML's winning over them.
    cfg = FeatureLookupConfig(on_missing="defaults", defaults={"spent": 0.0})
    rows = [{"customer_id": "nobody"}]
    OnlineFeatureLookup(FeatureLookupSpec.from_model(spec, cfg), store).complete(rows)
    assert rows[0] == {"customer_id": "nobody", "orders": -1.0, "spent": 0.0}
