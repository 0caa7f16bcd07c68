"""The scale run end to end on a tiny population: generator, feature store, training set, epoch."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from churnops.benchmarks import scale_epoch as scale
from churnops.data.sources.synthetic import BLOCK, generate_orders


def test_parallel_generation_writes_the_same_orders_as_the_generator(tmp_path):
    customers = BLOCK + 1234  # two blocks, the second cut short
    n = scale.generate(tmp_path / "parts", customers, seed=5, workers=2)
    parts = pq.read_table(tmp_path / "parts").sort_by([("customer_id", "ascending")])
    generate_orders(tmp_path / "one.parquet", customers=customers, seed=5)
    one = pq.read_table(tmp_path / "one.parquet").sort_by([("customer_id", "ascending")])
    assert n == len(parts) == len(one)
    assert parts.equals(one)
    assert pc.count_distinct(parts["customer_id"]).as_py() == customers


@pytest.mark.slow  # a real train(cfg) and a feature-store build: about a minute on 2 busy cores
def test_scale_run_writes_a_row_per_stage(tmp_path):
    argv = ["--customers", "3000", "--batch-size", "512", "--workers", "1", "--device", "cpu"]
    argv += ["--workdir", str(tmp_path / "work"), "--results-dir", str(tmp_path)]
    assert scale.main(argv) == 0
    rows = json.loads((tmp_path / "scale.json").read_text())
    stages = [r["stage"] for r in rows]
    assert stages == [
        "generate orders",
        "features -> feature store",
        "point-in-time training set",
        "train: the epoch (fit)",
        "train: all of train(cfg)",
        "total",
    ]
    by = {r["stage"]: r for r in rows}
    assert by["features -> feature store"]["rows"] == 3000  # all bought before the cutoff
    assert by["point-in-time training set"]["rows"] == 3000
    assert 0 < by["train: the epoch (fit)"]["rows"] < 3000  # the fit split only
    assert "test AUROC" in by["train: the epoch (fit)"]["note"]
    assert not (tmp_path / "work").exists()  # removed without --keep


def test_cuda_is_refused_where_there_is_none(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit):
        scale.main(["--customers", "10", "--batch-size", "4", "--device", "cuda"])
    assert "--device cuda: torch sees no CUDA GPU" in capsys.readouterr().err


def test_a_batch_larger_than_the_fit_split_is_refused_up_front(capsys):
    with pytest.raises(SystemExit):
        scale.main(["--customers", "3000", "--batch-size", "262144", "--device", "cpu"])
    err = capsys.readouterr().err
    assert "--batch-size 262,144 is more than the fit split's ~2,160 rows" in err
