"""Petastorm loader tests: they run in .venv-petastorm (scripts/petastorm-env), skip elsewhere."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from loader_cases import FEATURES, LABEL, ROWS, epoch_ids

from churnops.data.loaders import make_loader

petastorm = pytest.importorskip("petastorm", reason="petastorm lives in .venv-petastorm")


def _open(path, **kw):
    kw.setdefault("batch_size", 64)
    return make_loader("petastorm", path, FEATURES, LABEL, **kw)


def test_petastorm_is_the_pinned_version():
    import pyarrow

    assert petastorm.__version__ == "0.12.1"
    assert pyarrow.__version__.startswith("14.")
    assert np.__version__.startswith("1.")


def test_two_ranks_cover_every_row_once_per_epoch(training_set):
    ranks = [_open(training_set, rank=r, world_size=2, seed=5) for r in (0, 1)]
    for _ in range(2):
        seen = [epoch_ids(loader) for loader in ranks]
        assert not set(seen[0]) & set(seen[1]), "ranks overlap"
        assert sorted(seen[0] + seen[1]) == list(range(ROWS))
        assert all(seen)


def test_order_is_fixed_by_seed_and_changes_by_epoch(training_set):
    a, b = _open(training_set, seed=3), _open(training_set, seed=3)
    a0, a1 = epoch_ids(a), epoch_ids(a)
    assert a0 == epoch_ids(b)
    assert a1 == epoch_ids(b)
    assert a0 != a1
    assert sorted(a0) == list(range(ROWS))
    assert a0 != epoch_ids(_open(training_set, seed=4))


def test_without_shuffle_reads_in_file_order(training_set):
    assert epoch_ids(_open(training_set, shuffle=False)) == list(range(ROWS))


def test_batches_are_full_but_the_last_and_values_match(training_set):
    batches = list(_open(training_set, batch_size=100, seed=1))
    sizes = [len(y) for _, y in batches]
    assert sizes[:-1] == [100] * (len(sizes) - 1) and sum(sizes) == ROWS
    x = torch.cat([b[0] for b in batches])
    x = x[torch.argsort(x[:, 0])]
    table = pq.read_table(training_set).sort_by("row_id")
    want = np.stack([table[c].to_numpy().astype(np.float32) for c in FEATURES], axis=1)
    np.testing.assert_array_equal(x.numpy(), want)


def test_missing_column_is_named(training_set):
    with pytest.raises(ValueError, match=r"column 'nope' not found"):
        make_loader("petastorm", training_set, ["nope"], LABEL, 8)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("churnops-petastorm-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.mark.spark
@pytest.mark.slow
def test_spark_converter_path_covers_every_row(spark, training_set, tmp_path):
    from churnops.data.loaders.petastorm import make_spark_converter_loader

    df = spark.read.parquet(str(training_set)).repartition(4)
    loaders = [
        make_spark_converter_loader(
            df,
            FEATURES,
            LABEL,
            64,
            cache_dir_url=tmp_path.as_uri(),
            rank=r,
            world_size=2,
            seed=2,
        )
        for r in (0, 1)
    ]
    try:
        seen = [epoch_ids(loader) for loader in loaders]
        assert not set(seen[0]) & set(seen[1])
        assert sorted(seen[0] + seen[1]) == list(range(ROWS))
    finally:
        loaders[0].converter.delete()


@pytest.mark.spark
def test_spark_converter_names_a_missing_column(spark):
    from churnops.data.loaders.petastorm import make_spark_converter_loader

    df = spark.createDataFrame([(1.0, 0)], ["a", "y"])
    with pytest.raises(ValueError, match=r"column 'b' not found in the DataFrame: it has a, y"):
        make_spark_converter_loader(df, ["a", "b"], "y", 8)
