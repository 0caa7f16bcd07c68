"""Training within a memory budget: the loader switch, and the training set read without
whole-table copies."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from churnops.trainers.config import load_train_config
from churnops.trainers.data import _feature_matrix, choose_loader, load_training_arrays
from churnops.trainers.train import train


def test_choose_loader_switches_only_in_memory_past_the_budget(caplog):
    assert choose_loader("in-memory", 1000, 15, budget_mb=1) == "in-memory"  # 64 KB
    with caplog.at_level(logging.WARNING, logger="churnops.trainers.data"):
        assert choose_loader("in-memory", 1_000_000, 15, budget_mb=1) == "arrow-stream"
    assert "memory_budget_mb=1" in caplog.text and "arrow-stream" in caplog.text
    assert choose_loader("petastorm", 1_000_000, 15, budget_mb=1) == "petastorm"
    assert choose_loader("in-memory", 10**9, 15, budget_mb=None) == "in-memory"


def test_a_training_set_over_the_budget_trains_from_the_stream(tiny_overrides, caplog):
    cfg = load_train_config([*tiny_overrides, "logger=none", "trainer.memory_budget_mb=0.01"])
    with caplog.at_level(logging.WARNING, logger="churnops.trainers.data"):
        result = train(cfg)
    assert "streaming it with the arrow-stream loader" in caplog.text
    # The streaming loader reads the fit split written beside the checkpoints.
    splits = list(Path(cfg.workdir).rglob("train.parquet"))
    assert splits and pq.read_metadata(splits[0]).num_rows > 0
    assert 0.5 < result.metrics["test/auroc"] <= 1


def test_within_the_budget_the_loader_is_left_alone(tiny_overrides, caplog):
    cfg = load_train_config([*tiny_overrides, "logger=none"])
    with caplog.at_level(logging.WARNING, logger="churnops.trainers.data"):
        train(cfg)
    assert "arrow-stream" not in caplog.text
    assert not list(Path(cfg.workdir).rglob("train.parquet"))


def test_numeric_features_read_batch_by_batch_equal_the_whole_table_read(tmp_path):
    rng = np.random.default_rng(0)
    n = 300_000
    table = pa.table({
        "customer_id": [f"c{i}" for i in range(n)],
        "a": pa.array(rng.integers(0, 100, n), pa.int64()),
        "b": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.random(n))),
        "churn": pa.array(rng.integers(0, 2, n), pa.int64()),
    })  # fmt: skip
    path = tmp_path / "set.parquet"
    pq.write_table(table, path, row_group_size=70_000)  # several row groups and batches
    data = load_training_arrays(path, ["a", "b"])
    assert data.x.dtype == np.float32 and data.x.shape == (n, 2)
    np.testing.assert_array_equal(data.x, _feature_matrix(table, ["a", "b"]))
    assert data.y.tolist() == table["churn"].to_pylist()
    assert data.ids[:3].tolist() == ["c0", "c1", "c2"] and len(data.ids) == n
