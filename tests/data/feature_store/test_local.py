"""LocalFeatureStore on delta-rs: metadata, merges, versions, validation, concurrent writers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from churnops.data import storage
from churnops.data.feature_store import (
    FeatureStoreError,
    FeatureTableNotFoundError,
    LocalFeatureStore,
)
from churnops.data.feature_store.frames import to_arrow
from tests.data.feature_store.conftest import TABLE, d

PROFILE = "ml.churn.profile"


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, duckdb_engine):
    """Each test on a local root and on `s3://` (moto's S3 server): the same store either way."""
    if request.param == "s3":
        root = storage.join(request.getfixturevalue("s3_storage").root, "fs")
    else:
        root = tmp_path / "fs"
    return LocalFeatureStore(root, engine=duckdb_engine)


def profile(ids, score, **extra) -> pa.Table:
    return pa.table({"customer_id": ids, "score": [float(s) for s in score], **extra})


def rows(store, name, **kw) -> list[dict]:
    return store.read_table_arrow(name, **kw).sort_by("customer_id").to_pylist()


def test_create_stores_metadata_with_the_table(store, timeline):
    table = store.create_table(
        TABLE,
        "customer_id",
        df=timeline,
        timeseries_column="as_of",
        description="monthly snapshots",
        tags={"team": "growth"},
    )
    again = LocalFeatureStore(store.root).get_table(TABLE)  # read back from the Delta log
    assert again == table
    assert table.primary_keys == ["customer_id"]
    assert table.timeseries_column == "as_of"
    assert table.features == ["x", "n"]
    assert table.description == "monthly snapshots"
    assert table.tags == {"team": "growth"}
    assert table.created_by and table.created_at
    assert table.version == 0
    assert store.list_tables() == [TABLE]
    assert storage.exists(storage.join(store.root, "ml", "churn", "customer_ts", "_delta_log"))


def test_merge_upserts_adds_features_and_keeps_versions(store):
    store.create_table(PROFILE, "customer_id", df=profile(["a", "b"], [1, 2]))
    version = store.write_table(
        PROFILE,
        profile(["b", "c"], [20, 30], segment=["x", "y"]),  # update b, insert c, new feature
    )
    assert version == 1
    assert rows(store, PROFILE) == [
        {"customer_id": "a", "score": 1.0, "segment": None},
        {"customer_id": "b", "score": 20.0, "segment": "x"},
        {"customer_id": "c", "score": 30.0, "segment": "y"},
    ]
    assert store.get_table(PROFILE).features == ["score", "segment"]
    assert rows(store, PROFILE, version=0) == [
        {"customer_id": "a", "score": 1.0},
        {"customer_id": "b", "score": 2.0},
    ]
    # A write of some columns only leaves the others as they were.
    store.write_table(PROFILE, pa.table({"customer_id": ["a"], "segment": ["z"]}))
    assert rows(store, PROFILE)[0] == {"customer_id": "a", "score": 1.0, "segment": "z"}
    assert [h["version"] for h in store.history(PROFILE)] == [2, 1, 0]


def test_read_as_of_a_timestamp(store):
    # delta-rs dates a commit by its log file's modification time: whole seconds on S3.
    gap = 1.1 if store.root.startswith("s3://") else 0.05
    store.create_table(PROFILE, "customer_id", df=profile(["a"], [1]))
    time.sleep(gap)
    between = datetime.now(UTC)
    time.sleep(gap)
    store.write_table(PROFILE, profile(["a"], [2]))
    assert rows(store, PROFILE, as_of_delta_timestamp=between)[0]["score"] == 1.0
    assert rows(store, PROFILE)[0]["score"] == 2.0


def test_read_table_returns_the_engine_frame(store, engine):
    if engine.name == "spark" and not storage.is_local(store.root):
        pytest.skip("Spark reads s3:// through s3a, whose hadoop-aws jars are not installed here")
    store.create_table(PROFILE, "customer_id", df=profile(["a", "b"], [1, 2]))
    store.write_table(PROFILE, profile(["c"], [3], segment=["s"]))  # files with two schemas
    df = store.read_table(PROFILE, like=engine)
    assert type(df).__module__.split(".")[0] in ("sqlframe", "pyspark")
    got = to_arrow(df).sort_by("customer_id").to_pylist()
    assert [r["segment"] for r in got] == [None, None, "s"]


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (profile(["a", "a"], [1, 2]), "appear more than once"),
        (pa.table({"customer_id": ["a", None], "score": [1.0, 2.0]}), "null value"),
        (pa.table({"score": [1.0]}), "lacks key column"),
        (pa.table({"customer_id": ["a"], "score": ["high"]}), "'score' has type string"),
        (pa.table({"customer_id": ["a"], "bad name": [1.0]}), "not a plain identifier"),
    ],
)
def test_bad_batch_fails_and_leaves_the_table_as_it_was(store, batch, message):
    store.create_table(PROFILE, "customer_id", df=profile(["a", "b"], [1, 2]))
    before = rows(store, PROFILE)
    with pytest.raises(FeatureStoreError, match=message):
        store.write_table(PROFILE, batch)
    assert store.get_table(PROFILE).version == 0
    assert rows(store, PROFILE) == before


def test_bad_first_batch_creates_nothing(store):
    with pytest.raises(FeatureStoreError, match="appear more than once"):
        store.create_table(PROFILE, "customer_id", df=profile(["a", "a"], [1, 2]))
    assert store.list_tables() == []


def test_timeseries_key_allows_many_rows_per_entity(store, timeline):
    store.create_table(TABLE, "customer_id", df=timeline, timeseries_column="as_of")
    with pytest.raises(FeatureStoreError, match="appear more than once"):
        store.write_table(
            TABLE,
            pa.table({"customer_id": ["a", "a"], "as_of": [d("2020-05-31")] * 2, "x": [1.0, 2.0]}),
        )
    store.write_table(
        TABLE, pa.table({"customer_id": ["a"], "as_of": [d("2020-01-31")], "x": [-1.0]})
    )
    a = [r for r in rows(store, TABLE) if r["customer_id"] == "a"]
    assert [r["x"] for r in sorted(a, key=lambda r: r["as_of"])] == [-1.0, 20200229.0, 20200331.0]


def test_widening_types_are_accepted(store):
    store.create_table(PROFILE, "customer_id", df=profile(["a"], [1]))
    store.write_table(PROFILE, pa.table({"customer_id": ["b"], "score": pa.array([2], pa.int32())}))
    assert rows(store, PROFILE)[1]["score"] == 2.0


def test_names_and_existence_are_checked(store):
    with pytest.raises(FeatureStoreError, match="three-level"):
        store.create_table("customer_features", "customer_id", df=profile(["a"], [1]))
    store.create_table(PROFILE, "customer_id", df=profile(["a"], [1]))
    with pytest.raises(FeatureStoreError, match="already exists"):
        store.create_table(PROFILE, "customer_id", df=profile(["a"], [1]))
    with pytest.raises(FeatureTableNotFoundError):
        store.get_table("ml.churn.nope")
    with pytest.raises(FeatureStoreError, match="mode="):
        store.write_table(PROFILE, profile(["a"], [1]), mode="append")
    store.drop_table(PROFILE)
    assert store.list_tables() == []


def test_create_from_schema_then_overwrite(store):
    schema = pa.schema([("customer_id", pa.string()), ("score", pa.float64())])
    assert store.create_table(PROFILE, "customer_id", schema=schema).features == ["score"]
    assert rows(store, PROFILE) == []
    store.write_table(PROFILE, profile(["a", "b"], [1, 2]))
    store.write_table(PROFILE, profile(["c"], [3]), mode="overwrite")
    assert rows(store, PROFILE) == [{"customer_id": "c", "score": 3.0}]


def test_two_writers_at_once_lose_nothing(store):
    store.create_table(PROFILE, "customer_id", df=profile(["seed"], [0]))
    errors: list[Exception] = []

    def writer(prefix: str) -> None:
        try:
            for i in range(6):
                ids = [f"{prefix}{i}", "shared"]  # `shared` is written by both: last one wins
                store.write_table(PROFILE, profile(ids, [i, i]))
        except Exception as exc:  # pragma: no cover - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("w", "v")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = {r["customer_id"] for r in rows(store, PROFILE)}
    assert ids == {"seed", "shared"} | {f"{p}{i}" for p in "wv" for i in range(6)}
    assert store.get_table(PROFILE).version == 12


def test_metadata_survives_a_commit_by_another_delta_writer(store):
    from deltalake import write_deltalake

    store.create_table(PROFILE, "customer_id", df=profile(["a"], [1]), tags={"k": "v"})
    path = store.table_path(PROFILE)
    options = storage.delta_options(path)
    write_deltalake(path, profile(["b"], [2]), mode="append", storage_options=options)
    table = store.get_table(PROFILE)
    assert (table.version, table.primary_keys, table.tags) == (1, ["customer_id"], {"k": "v"})


def test_a_store_stops_the_engine_it_created_and_not_a_given_one(tmp_path, created_engines):
    from churnops.data.feature_store.local import LocalFeatureStore
    from tests.fixtures.engines import spy_engine

    with LocalFeatureStore(tmp_path / "fs") as store:
        assert not created_engines  # no engine until a read needs one
        store.engine  # noqa: B018 - a read without a DataFrame makes one
    assert [e.stopped for e in created_engines] == [True]
    given = spy_engine("duckdb")
    with LocalFeatureStore(tmp_path / "fs", engine=given) as store:
        assert store.engine is given
    assert not given.stopped
