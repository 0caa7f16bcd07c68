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


def test_unknown_loader_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--loaders", "in-memory,pickle"])
    assert exit_.value.code == 2
    assert "--loaders: 'pickle' is not one of per-row-dataloader" in capsys.readouterr().err
