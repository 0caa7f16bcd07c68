"""model_training: train(cfg) in the run's store; the pyfunc it logs is the one that scores."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from churnops.data.features import FEATURE_COLUMNS
from tests.pipelines.tasks.conftest import train_logistic

pytestmark = pytest.mark.slow


def test_trains_logs_and_registers_in_the_runs_store(run, features, tmp_path):
    out = train_logistic(run, features, alias="challenger")
    assert out.model_version == "1" and 0.6 < out.test_auroc == out.metrics["test/auroc"] < 0.95
    assert (tmp_path / "mlflow.db").exists()  # one store per run, under its workdir
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    served = mlflow.pyfunc.load_model("models:/churnops_churn@challenger")
    rows = pd.read_parquet(features.training_set).head(5)[list(FEATURE_COLUMNS)]
    assert served.predict(rows)["probability"].between(0, 1).all()
    assert mlflow.get_run(out.run_id).data.metrics["test/auroc"] == out.test_auroc
