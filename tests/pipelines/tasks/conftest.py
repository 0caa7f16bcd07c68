"""The pipeline world, built once: feature_engineering on CDNOW's 1/10 sample (real Delta feature
table, point-in-time training set, SQLite online store). Each test runs its tasks in its own
workdir, so its MLflow store and registry start empty."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="session")
def features(tmp_path_factory):
    from churnops.pipelines.tasks.features import FeatureEngineeringInputs, feature_engineering

    workdir = tmp_path_factory.mktemp("pipeline-features")
    return feature_engineering(
        FeatureEngineeringInputs(
            workdir=str(workdir), source={"kind": "cdnow", "variant": "sample"}
        )
    )


@pytest.fixture(autouse=True)
def _quiet_lightning():
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


@pytest.fixture
def run(tmp_path) -> dict[str, str]:
    """One test's run: its own workdir, hence its own SQLite MLflow store and registry."""
    return {"workdir": str(tmp_path)}


def train_logistic(run, features, **changes):
    """A registered logistic-regression version (seconds to fit) through model_training."""
    from churnops.pipelines.tasks.training import ModelTrainingInputs, model_training

    inputs = {
        "training_set": features.training_set,
        "model": "logistic_regression",
        "overrides": ["logger.log_plots=false"],
        **run,
        **changes,
    }
    return model_training(ModelTrainingInputs(**inputs))
