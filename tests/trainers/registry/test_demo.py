"""The registry demo leaves a gated champion and a different, gated challenger for serving."""

from __future__ import annotations

import mlflow
import pandas as pd


def test_registry_demo(tmp_path, cdnow_training_set_path, capsys):
    from churnops.trainers.registry.demo import run_registry_demo

    out = run_registry_demo(cdnow_training_set_path, tmp_path, model_name="demo_churn",
                            num_samples=2)  # fmt: skip
    assert out["champion_uri"] == "models:/demo_churn@champion"
    assert out["challenger_uri"] == "models:/demo_churn@challenger"
    assert out["champion_version"] == "1" and out["challenger_version"] == "2"
    assert out["champion_gate"] == "PASSED"
    assert out["challenger_gate"] in ("PASSED", "FAILED")
    mlflow.set_tracking_uri(out["tracking_uri"])
    for uri in (out["champion_uri"], out["challenger_uri"]):
        rows = pd.read_parquet(cdnow_training_set_path).head(3)
        frame = mlflow.pyfunc.load_model(uri).predict(rows)
        assert list(frame.columns) == ["probability", "prediction"]
    assert "is champion" in capsys.readouterr().out
