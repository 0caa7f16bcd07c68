"""Point-in-time lookups: the latest feature row at or before each label's time, never after."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pyarrow as pa
import pytest

from churnops.data.feature_store import FeatureLookup, FeatureStoreError
from churnops.data.feature_store.frames import to_arrow
from tests.data.feature_store.conftest import TABLE, d


def labels_frame(engine, rows):
    return engine.from_arrow(
        pa.table(
            {
                "customer_id": [r[0] for r in rows],
                "cutoff": [d(r[1]) for r in rows],
                "churn": pa.array([r[2] for r in rows], pa.int32()),
            }
        )
    )


def collect(df, keys=("customer_id", "cutoff")) -> list[dict]:
    table = to_arrow(df).sort_by([(k, "ascending") for k in keys])
    return table.to_pylist()


def test_leakage_hand_made_timelines(store, timeline, engine):
    """The classic leakage traps: same day, day before, between snapshots, before any, unknown."""
    store.create_table(TABLE, "customer_id", df=timeline, timeseries_column="as_of")
    labels = labels_frame(
        engine,
        [
            ("a", "2020-02-29", 1),  # same day as a snapshot: that snapshot counts
            ("a", "2020-02-28", 0),  # a day before: the January one
            ("a", "2020-01-30", 0),  # before the first snapshot: nothing
            ("a", "2030-01-01", 1),  # long after: the latest
            ("b", "2020-03-14", 1),  # between b's snapshots
            ("c", "2020-06-30", 0),  # c's only snapshot is in the future
            ("z", "2020-06-30", 0),  # unknown customer
        ],
    )
    ts = store.create_training_set(
        labels,
        [FeatureLookup(TABLE, "customer_id", timestamp_lookup_key="cutoff")],
        label="churn",
    )
    df = ts.load_df()
    assert list(df.columns) == ["customer_id", "cutoff", "x", "n", "churn"]
    got = {(r["customer_id"], r["cutoff"].isoformat()): r["x"] for r in collect(df)}
    assert got == {
        ("a", "2020-01-30"): None,
        ("a", "2020-02-28"): 20200131.0,
        ("a", "2020-02-29"): 20200229.0,
        ("a", "2030-01-01"): 20200331.0,
        ("b", "2020-03-14"): 20200115.0,
        ("c", "2020-06-30"): None,
        ("z", "2020-06-30"): None,
    }


def test_lookup_without_a_time_takes_each_keys_latest_row(store, timeline, engine):
    """No timestamp_lookup_key on a time-series table: one row per label row, the newest values."""
    store.create_table(TABLE, "customer_id", df=timeline, timeseries_column="as_of")
    labels = labels_frame(
        engine, [("a", "2020-01-30", 1), ("b", "2020-01-30", 0), ("z", "2020-01-30", 0)]
    )
    df = store.create_training_set(labels, [FeatureLookup(TABLE, "customer_id")], "churn").load_df()
    got = {r["customer_id"]: r["x"] for r in collect(df)}
    assert got == {"a": 20200331.0, "b": 20200315.0, "z": None}


def test_random_timelines_match_brute_force(store, engine):
    """Random timelines: each row equals a brute-force search, none is from the future."""
    rng = random.Random(7)
    start = date(2020, 1, 1)
    feats, labels = {}, []
    for c in range(30):
        cid = f"c{c:02d}"
        for day in rng.sample(range(0, 365), rng.randint(0, 8)):
            feats[(cid, start + timedelta(days=day))] = float(day)
        for _ in range(rng.randint(1, 4)):
            labels.append((cid, (start + timedelta(days=rng.randint(0, 400))).isoformat(), 0))
    store.create_table(
        TABLE,
        "customer_id",
        df=pa.table(
            {
                "customer_id": [k[0] for k in feats],
                "as_of": [k[1] for k in feats],
                "day": list(feats.values()),
            }
        ),
        timeseries_column="as_of",
    )
    lookup = FeatureLookup(
        TABLE, "customer_id", timestamp_lookup_key="cutoff", lookback_window=timedelta(days=60)
    )
    out = collect(
        store.create_training_set(labels_frame(engine, labels), [lookup], "churn").load_df()
    )
    assert len(out) == len(labels)
    for row in out:
        cutoff = row["cutoff"]
        seen = [
            ts for (cid, ts) in feats if cid == row["customer_id"] and ts <= cutoff
            and ts >= cutoff - timedelta(days=60)
        ]  # fmt: skip
        expected = float((max(seen) - start).days) if seen else None
        assert row["day"] == expected, row
        if row["day"] is not None:
            assert start + timedelta(days=int(row["day"])) <= cutoff


def test_lookup_options(ts_store, duckdb_engine):
    labels = labels_frame(duckdb_engine, [("a", "2020-03-01", 1), ("z", "2020-03-01", 0)])
    lookup = FeatureLookup(
        TABLE,
        "customer_id",
        feature_names=["x"],
        rename_outputs={"x": "snapshot_day"},
        timestamp_lookup_key="cutoff",
        default_values={"snapshot_day": -1.0},  # keyed by the output name, as on Databricks
    )
    out = collect(ts_store.create_training_set(labels, [lookup], "churn").load_df())
    assert [r["snapshot_day"] for r in out] == [20200229.0, -1.0]
    assert list(out[0]) == ["customer_id", "cutoff", "snapshot_day", "churn"]


def test_duplicate_label_rows_all_survive(ts_store, duckdb_engine):
    labels = labels_frame(duckdb_engine, [("a", "2020-03-01", 1), ("a", "2020-03-01", 0)])
    lookup = FeatureLookup(TABLE, "customer_id", timestamp_lookup_key="cutoff")
    out = collect(ts_store.create_training_set(labels, [lookup], "churn").load_df())
    assert sorted(r["churn"] for r in out) == [0, 1]
    assert {r["x"] for r in out} == {20200229.0}


def test_plain_lookup_on_a_table_without_time(store, duckdb_engine):
    store.create_table(
        "ml.churn.profile",
        "customer_id",
        df=pa.table({"customer_id": ["a", "b"], "segment": ["gold", "silver"]}),
    )
    labels = labels_frame(duckdb_engine, [("a", "2020-03-01", 1), ("q", "2020-03-01", 0)])
    out = collect(
        store.create_training_set(
            labels, [FeatureLookup("ml.churn.profile", "customer_id")], "churn",
            exclude_columns=["cutoff"],
        ).load_df(),
        keys=("customer_id",),
    )  # fmt: skip
    assert out == [
        {"customer_id": "a", "segment": "gold", "churn": 1},
        {"customer_id": "q", "segment": None, "churn": 0},
    ]


@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        (FeatureLookup(TABLE, ["customer_id", "cutoff"]), "one lookup column per key"),
        (FeatureLookup(TABLE, "customer_id", feature_names=["nope"]), "not features"),
        (FeatureLookup(TABLE, "missing_col"), "not in df"),
        (FeatureLookup(TABLE, "customer_id", rename_outputs={"x": "churn"}), "already exist"),
        (FeatureLookup("ml.churn.absent", "customer_id"), "does not exist"),
    ],
)
def test_bad_lookups_name_the_problem(ts_store, duckdb_engine, lookup, message):
    labels = labels_frame(duckdb_engine, [("a", "2020-03-01", 1)])
    with pytest.raises(FeatureStoreError, match=message):
        ts_store.create_training_set(labels, [lookup], "churn").load_df()


def test_lookup_arguments_are_checked():
    with pytest.raises(FeatureStoreError, match="three-level"):
        FeatureLookup("features", "customer_id")
    with pytest.raises(FeatureStoreError, match="renamed"):
        FeatureLookup(TABLE, "customer_id", rename_outputs={"x": "y"}, default_values={"x": 0})
    with pytest.raises(FeatureStoreError, match="needs timestamp_lookup_key"):
        FeatureLookup(TABLE, "customer_id", lookback_window=timedelta(days=1))


def test_timestamp_columns_with_an_hour_lookback(store, engine):
    from datetime import datetime

    t = datetime.fromisoformat
    store.create_table(
        "ml.churn.events",
        "customer_id",
        df=pa.table(
            {
                "customer_id": ["a", "a"],
                "ts": pa.array([t("2020-01-01 10:00"), t("2020-01-01 12:00")], pa.timestamp("us")),
                "v": [1.0, 2.0],
            }
        ),
        timeseries_column="ts",
    )
    events = engine.from_arrow(
        pa.table(
            {
                "customer_id": ["a", "a", "a"],
                "at": pa.array(
                    [t("2020-01-01 11:59:59"), t("2020-01-01 12:00"), t("2020-01-01 13:30")],
                    pa.timestamp("us"),
                ),
                "churn": [0, 1, 2],
            }
        )
    )
    lookup = FeatureLookup(
        "ml.churn.events", "customer_id", timestamp_lookup_key="at",
        lookback_window=timedelta(hours=1),
    )  # fmt: skip
    out = to_arrow(store.create_training_set(events, [lookup], "churn").load_df())
    got = {r["churn"]: r["v"] for r in out.to_pylist()}
    # 11:59:59 -> the 10:00 row is 1h59m old: outside the window; 13:30 -> 12:00 is 1h30m old.
    assert got == {0: None, 1: 2.0, 2: None}
