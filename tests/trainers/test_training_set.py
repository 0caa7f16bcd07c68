"""The one training-set builder: feature store, point-in-time lookup, int64 labels, any cutoff."""

from __future__ import annotations

import re
from datetime import date

import pyarrow.parquet as pq
import pytest

from churnops.data.feature_store import LocalFeatureStore
from churnops.data.features import FEATURE_COLUMNS, compute_customer_features, compute_labels
from churnops.data.features.parity import compare_frames
from churnops.trainers.config import DataConfig, load_train_config
from churnops.trainers.data import load_training_arrays
from churnops.trainers.training_set import (
    build_training_set,
    default_training_set,
    ensure_training_set,
    snapshot_cutoffs,
)


def test_cdnow_training_set_has_id_cutoff_features_and_label_columns(cdnow_training_set_path):
    table = pq.read_table(cdnow_training_set_path)
    assert table.column_names == ["customer_id", "cutoff", *FEATURE_COLUMNS, "churn"]
    assert str(table.schema.field("churn").type) == "int64"  # one label dtype everywhere
    assert table.num_rows == 23570
    assert set(table["churn"].to_pylist()) == {0, 1}
    data = load_training_arrays(cdnow_training_set_path, list(FEATURE_COLUMNS))
    assert data.x.shape == (23570, 18)
    assert 0.7 < data.y.mean() < 0.8  # CDNOW at the default cutoff: about 74% churn


def test_snapshot_cutoffs_include_as_of_and_month_ends():
    assert snapshot_cutoffs(date(1997, 1, 1), date(1997, 3, 15)) == [date(1997, 3, 15)]
    assert snapshot_cutoffs(date(1997, 1, 1), date(1997, 2, 10), date(1997, 3, 31)) == [
        date(1997, 1, 31),
        date(1997, 2, 10),
        date(1997, 2, 28),
        date(1997, 3, 31),
    ]
    with pytest.raises(ValueError, match=r"data\.as_of=1996-12-01: before the first order"):
        snapshot_cutoffs(date(1997, 1, 1), date(1996, 12, 1))


@pytest.mark.slow
def test_mid_month_cutoff_matches_features_and_labels_computed_directly(tmp_path, duckdb_engine):
    # A cutoff inside a month, a 90-day horizon, the 1/10 sample: what `churnops train` at any
    # cutoff builds must equal the features and labels computed directly at that day.
    data = DataConfig(
        source={"kind": "cdnow", "variant": "sample"}, as_of="1997-06-15", horizon_days=90
    )
    built = build_training_set(tmp_path / "ts.parquet", data, tmp_path / "fs", monthly_history=True)
    assert date(1997, 6, 15) in built.snapshots and date(1998, 6, 30) in built.snapshots
    table = pq.read_table(built.path)
    orders = duckdb_engine.read_parquet(built.orders_path)
    direct = duckdb_engine.to_arrow(compute_customer_features(orders, date(1997, 6, 15)))
    labels = duckdb_engine.to_arrow(compute_labels(orders, date(1997, 6, 15), 90))
    assert table.num_rows == labels.num_rows == built.rows
    assert (
        table.select(["customer_id", "churn"]).to_pylist()
        == labels.sort_by("customer_id").select(["customer_id", "churn"]).to_pylist()
    )
    columns = ["customer_id", *FEATURE_COLUMNS]
    direct = direct.sort_by("customer_id").select(columns)
    assert compare_frames(table.select(columns), direct) == []
    store = LocalFeatureStore(tmp_path / "fs")
    assert store.get_table(built.feature_table).timeseries_column == "as_of"


def test_ensure_training_set_prefers_data_path_and_names_the_default(tmp_path):
    cfg = load_train_config([f"workdir={tmp_path}", "data.path=/some/where.parquet"])
    assert str(ensure_training_set(cfg.workdir, cfg.data)) == "/some/where.parquet"
    cfg = load_train_config(
        [f"workdir={tmp_path}", "data.as_of=1998-01-31", "data.horizon_days=90"]
    )
    name = default_training_set(cfg.workdir, cfg.data).name
    assert re.fullmatch(r"training_set-cdnow-1998-01-31-h90-[0-9a-f]{8}\.parquet", name)
    other = cfg.data.model_copy(
        update={"source": cfg.data.source.model_copy(update={"variant": "sample"})}
    )
    assert default_training_set(cfg.workdir, other).name != name


def test_data_config_rejects_a_bad_cutoff_and_horizon():
    from churnops.config import ConfigError

    with pytest.raises(ConfigError, match=r"data\.as_of='yesterday'"):
        load_train_config(["data.as_of=yesterday"])
    with pytest.raises(ConfigError, match=r"data\.horizon_days=0"):
        load_train_config(["data.horizon_days=0"])
