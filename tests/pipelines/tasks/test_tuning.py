"""tuning: a short sweep through the same fit as train; the best is registered as challenger."""

from __future__ import annotations

import pytest

from churnops.pipelines.tasks.tuning import TuningInputs, tuning
from churnops.trainers.registry import ModelRegistry

pytestmark = pytest.mark.slow


def test_sweeps_and_registers_the_best(run, features, tmp_path):
    out = tuning(
        TuningInputs(
            **run,
            training_set=features.training_set,
            num_samples=2,
        )
    )
    assert out.trials == 2 and out.model_version == "1"
    assert 0.5 < out.best_val_auroc <= 1 and "test/auroc" in out.test_metrics
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert registry.alias_version("churnops_churn", "challenger") == "1"
