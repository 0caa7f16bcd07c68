"""The validation gate promotes a sound challenger and refuses a broken one, with its report."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest

from churnops.trainers.registry import CHAMPION, ModelRegistry, ValidationGateConfig
from churnops.trainers.registry.gate import validate_challenger
from churnops.trainers.splits import split_train_test
from tests.trainers.registry.conftest import NAME, log


@pytest.fixture
def holdout(cdnow_frame):
    y = cdnow_frame["churn"].to_numpy()
    _, test = split_train_test(y, 0.2, 42)
    frame = cdnow_frame.iloc[test].reset_index(drop=True)
    return frame.drop(columns=["churn"]), y[test]


def test_gate_promotes_then_refuses_broken_challenger(
    mlflow_tmp, fitted_models, cdnow_frame, holdout
):
    registry = ModelRegistry(mlflow_tmp)
    gate = ValidationGateConfig(latency_rows=200, latency_repeats=1, max_calibration_error=0.2)
    x, y = holdout
    registry.register(log(fitted_models["good"], cdnow_frame), NAME, alias="challenger")
    first = validate_challenger(registry, NAME, x, y, gate)
    assert first.passed and first.promoted, first.checks
    # The gate judges the ECE that train logs: one definition, equal-width bins.
    judged = {c.name: c for c in first.checks}["calibration_error"].value
    assert judged == pytest.approx(first.challenger_metrics["test/ece"], abs=1e-6)
    assert registry.alias_version(NAME, CHAMPION) == "1"

    registry.register(log(fitted_models["broken"], cdnow_frame), NAME, alias="challenger")
    second = validate_challenger(registry, NAME, x, y, gate)
    checks = {c.name: c for c in second.checks}
    assert not second.passed and not second.promoted
    assert not checks["test/auroc"].passed  # shuffled labels: AUC near 0.5
    assert checks["signature"].passed and checks["no_nan_outputs"].passed
    assert registry.alias_version(NAME, CHAMPION) == "1"  # champion did not move
    tags = registry.get_version(NAME, 2).tags
    assert tags["validation_status"] == "FAILED"
    assert registry.get_version(NAME, 1).tags["validation_status"] == "PASSED"
    path = mlflow.artifacts.download_artifacts(
        run_id=tags["validation_run_id"], artifact_path="validation_report.json"
    )
    with open(path) as f:
        report = json.load(f)
    assert report["status"] == "FAILED" and report["champion_version"] == "1"
    assert report["challenger_metrics"]["test/auroc"] < report["champion_metrics"]["test/auroc"]


def test_gate_refuses_incompatible_signature(mlflow_tmp, fitted_models, cdnow_frame, holdout):
    from churnops.models.baselines import RecencyChurnModel
    from churnops.models.feature_spec import FeatureSpec
    from churnops.models.pyfunc import log_pyfunc_model

    registry = ModelRegistry(mlflow_tmp)
    gate = ValidationGateConfig(latency_rows=100, latency_repeats=1, max_auc_drop=1.0,
                                max_calibration_error=1.0)  # fmt: skip
    x, y = holdout
    registry.register(log(fitted_models["good"], cdnow_frame), NAME, alias=CHAMPION)
    recency = RecencyChurnModel(0).fit(
        cdnow_frame[["days_since_last_order"]].to_numpy(np.float32), cdnow_frame["churn"]
    )
    with mlflow.start_run():
        # One input, typed double: callers sending the champion's 18 features are still fine
        # column-wise, but `days_since_last_order` arrives as long -> type mismatch.
        example = x[["days_since_last_order"]].astype(float).head(2)
        info = log_pyfunc_model(
            recency, FeatureSpec(["days_since_last_order"]), input_example=example
        )
    registry.register(info.model_uri, NAME, alias="challenger")
    report = validate_challenger(registry, NAME, x, y, gate)
    checks = {c.name: c for c in report.checks}
    assert not checks["signature"].passed
    assert "is not accepted by the challenger" in checks["signature"].detail
    assert registry.alias_version(NAME, CHAMPION) == "1"
