"""Online stores (SQLite file, Redis on 127.0.0.1:6379): publish, incremental publish, lookups."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest

from churnops.data.feature_store import OnlineStoreConfig, get_online_store
from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore
from tests.data.feature_store.conftest import TABLE, d


def redis_store():
    import redis

    try:
        redis.Redis(socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379 (tests need one running)")
    prefix = f"churnops-test-{uuid.uuid4().hex[:8]}:"
    return get_online_store(OnlineStoreConfig(kind="redis", prefix=prefix))


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.services)])
def online(request, tmp_path):
    if request.param == "sqlite":
        store = get_online_store(OnlineStoreConfig(kind="sqlite", path=str(tmp_path / "o.db")))
    else:
        store = redis_store()
    yield store
    store.drop(TABLE)
    store.drop("ml.churn.pairs")
    store.close()


def test_publish_holds_the_latest_row_per_key(ts_store, online):
    result = ts_store.publish_table(TABLE, online)
    assert (result.mode, result.rows_written, result.version) == ("full", 3, 0)
    assert online.read_one(TABLE, "a") == {"as_of": "2020-03-31", "x": 20200331.0, "n": 2}
    found = online.read(TABLE, ["b", "nobody", "c"], features=["x"])
    assert found.rows == {("b",): {"x": 20200315.0}, ("c",): {"x": 20210101.0}}
    assert found.missing == [("nobody",)]  # reported, not invented
    assert online.read_one(TABLE, "nobody") is None


def test_incremental_publish_writes_only_what_changed(ts_store, online):
    ts_store.publish_table(TABLE, online)
    assert ts_store.publish_table(TABLE, online).mode == "unchanged"
    ts_store.write_table(
        TABLE,
        pa.table(
            {
                "customer_id": ["a", "b", "d"],
                # a: an older snapshot (latest unchanged); b: a newer one; d: a new customer
                "as_of": [d("2019-12-31"), d("2020-04-15"), d("2020-04-01")],
                "x": [1.0, 2.0, 3.0],
                "n": pa.array([10, 11, 12], pa.int64()),
            }
        ),
    )
    result = ts_store.publish_table(TABLE, online)
    assert (result.mode, result.rows_written, result.version) == ("incremental", 2, 1)
    assert online.info(TABLE).version == 1
    assert online.read_one(TABLE, "a")["x"] == 20200331.0
    assert online.read_one(TABLE, "b")["x"] == 2.0
    assert online.read_one(TABLE, "d")["x"] == 3.0
    # A new feature column changes the layout: the next publish is full.
    ts_store.write_table(
        TABLE,
        pa.table({"customer_id": ["a"], "as_of": [d("2020-03-31")], "extra": [1.5]}),
    )
    result = ts_store.publish_table(TABLE, online)
    assert (result.mode, result.rows_written) == ("full", 4)
    assert online.read_one(TABLE, "a")["extra"] == 1.5


def test_composite_keys(store, online):
    name = "ml.churn.pairs"
    store.create_table(
        name,
        ["customer_id", "product"],
        df=pa.table({"customer_id": ["a", "a", "b"], "product": [1, 2, 1], "v": [1.0, 2.0, 3.0]}),
    )
    store.publish_table(name, online)
    found = online.read(name, [("a", 2), ("b", 1), ("b", 2)])
    assert found.rows == {("a", 2): {"v": 2.0}, ("b", 1): {"v": 3.0}}
    assert found.missing == [("b", 2)]


def test_reading_an_unpublished_table_says_so(online):
    with pytest.raises(LookupError, match="not published"):
        online.read_one("ml.churn.never", "a")


def test_sqlite_publish_is_visible_to_another_connection(ts_store, tmp_path):
    path = tmp_path / "shared.db"
    ts_store.publish_table(TABLE, SQLiteOnlineStore(path))
    reader = SQLiteOnlineStore(path)  # e.g. the serving process
    assert reader.read_one(TABLE, "b")["x"] == 20200315.0
    ts_store.write_table(
        TABLE, pa.table({"customer_id": ["b"], "as_of": [d("2020-06-30")], "x": [9.0]})
    )
    ts_store.publish_table(TABLE, SQLiteOnlineStore(path))
    assert reader.read_one(TABLE, "b")["x"] == 9.0
