"""The loaders benchmark runs end to end on a tiny training set and writes its rows."""

from __future__ import annotations

import json

import pytest

from churnops.benchmarks import loaders as bench


def test_benchmark_writes_a_row_per_loader_and_mode(tmp_path):
    code = bench.main(
        [
            "--rows",
            "30000",
            "--batch-size",
            "1024",
            "--seconds",
            "0.2",
            "--loaders",
            "per-row-dataloader,raw-loop,lightning,in-memory,arrow-stream",
            "--arrow-workers",
            "0",
            "--results-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    rows = json.loads((tmp_path / "loaders.json").read_text())
    got = {(r["loader"], r["mode"]) for r in rows}
    assert got == {
        (k, m)
        for k in ("per-row-dataloader", "raw-loop", "in-memory", "arrow-stream")
        for m in ("train", "load")
    } | {("lightning", "train")}  # Trainer.fit only trains
    for r in rows:
        assert r["device"] == "cpu" and r["batch_size"] == 1024 and r["rows_per_s"] > 0
    assert all(r["vs_per_row"] == 1 for r in rows if r["loader"] == "per-row-dataloader")
    assert all(r["vs_raw_loop"] == 1 for r in rows if r["loader"] == "raw-loop")
    lightning = next(r for r in rows if r["loader"] == "lightning")
    assert lightning["vs_raw_loop"] > 0  # ChurnLitModule really stepped under Trainer.fit
    assert (tmp_path / "loaders.md").read_text().startswith("# Training-data loaders")


def test_batch_sizes_and_precisions_each_get_their_rows(tmp_path):
    argv = ["--rows", "20000", "--batch-size", "512,1024", "--precision", "fp32,bf16"]
    argv += ["--seconds", "0.1", "--modes", "train", "--arrow-workers", "0"]
    argv += ["--loaders", "per-row-dataloader,raw-loop,lightning,arrow-stream"]
    argv += ["--arrow-threads", "2", "--name", "scaled", "--results-dir", str(tmp_path)]
    code = bench.main(argv)
    assert code == 0
    rows = json.loads((tmp_path / "scaled.json").read_text())
    got = {(r["loader"], r["batch_size"], r["precision"]) for r in rows}
    scaled = {
        (k, b, p)
        for k in ("raw-loop", "lightning", "arrow-stream")
        for b in (512, 1024)
        for p in ("fp32", "bf16")
    }
    # the per-row DataLoader only at the first pair: bf16 and big batches do not change it
    assert got == scaled | {("per-row-dataloader", 512, "fp32")}
    for r in rows:
        assert r["rows_per_s"] > 0
        if r["loader"] == "raw-loop":
            assert r["vs_raw_loop"] == 1  # each pair compares with its own raw loop
    stream = [r for r in rows if r["loader"] == "arrow-stream"]
    assert all(r["options"] == "workers=0 threads=2" for r in stream)


@pytest.mark.slow  # inductor compiles C++ with gcc: tens of seconds on a busy 2-core box
def test_compiled_lightning_row(tmp_path):
    argv = ["--rows", "20000", "--batch-size", "1024", "--seconds", "0.2", "--modes", "train"]
    argv += ["--loaders", "raw-loop,lightning-compiled", "--results-dir", str(tmp_path)]
    code = bench.main(argv)
    assert code == 0
    rows = json.loads((tmp_path / "loaders.json").read_text())
    compiled = next(r for r in rows if r["loader"] == "lightning-compiled")
    assert compiled["options"] == "compile=default" and compiled["vs_raw_loop"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--precision", "fp8"], "--precision: 'fp8' is not one of fp32, bf16"),
        (["--batch-size", "0"], "--batch-size: [0]: expected positive integers"),
        (["--pairs", "65536:fp8"], "--pairs: '65536:fp8': expected BATCH:PRECISION"),
    ],
)
def test_bad_precision_or_batch_is_refused(capsys, argv, message):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err


def test_unknown_loader_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--loaders", "in-memory,pickle"])
    assert exit_.value.code == 2
    assert "--loaders: 'pickle' is not one of per-row-dataloader" in capsys.readouterr().err
