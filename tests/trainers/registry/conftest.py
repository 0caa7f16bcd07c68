"""Registry fixtures: MLflow on SQLite in a temp folder, CDNOW models logged as churnops pyfuncs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnops.data.features import FEATURE_COLUMNS
from churnops.models.feature_spec import FeatureSpec
from churnops.trainers.splits import split_train_test

NAME = "churn_registry_test"


@pytest.fixture(scope="session")
def cdnow_frame(cdnow_training_set_path) -> pd.DataFrame:
    return pd.read_parquet(cdnow_training_set_path)


@pytest.fixture(scope="session")
def fitted_models(cdnow_frame):
    """A forest on the train split, and the same forest fitted on shuffled labels (a broken
    training run: no signal, AUC near 0.5)."""
    from churnops.models.baselines import RandomForestChurnModel

    x = cdnow_frame[list(FEATURE_COLUMNS)].to_numpy(np.float32)
    y = cdnow_frame["churn"].to_numpy()
    train, _ = split_train_test(y, 0.2, 42)
    good = RandomForestChurnModel(30, 8, n_jobs=1).fit(x[train], y[train])
    shuffled = np.random.default_rng(0).permutation(y[train])
    broken = RandomForestChurnModel(30, 8, n_jobs=1).fit(x[train], shuffled)
    return {"good": good, "broken": broken}


def log(model, frame, name=NAME):
    """Log a churnops pyfunc in a new run with a test metric; returns the model URI."""
    import mlflow

    from churnops.models.pyfunc import log_pyfunc_model

    columns = list(FEATURE_COLUMNS)
    with mlflow.start_run():
        mlflow.log_metric("test/auroc", 0.5)
        info = log_pyfunc_model(model, FeatureSpec(columns), input_example=frame[columns].head(3))
    return info.model_uri
