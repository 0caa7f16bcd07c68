"""model_validation and model_deployment: the gate decides; a failed gate deploys nothing."""

from __future__ import annotations

import pytest
import yaml

from churnops.pipelines.tasks.deployment import (
    DeploymentRefused,
    ModelDeploymentInputs,
    model_deployment,
)
from churnops.pipelines.tasks.validation import ModelValidationInputs, model_validation
from churnops.serving.config import load_endpoint_config
from churnops.trainers.registry import ModelRegistry
from tests.pipelines.tasks.conftest import train_logistic

pytestmark = pytest.mark.slow
FAST_GATE = {"latency_rows": 200, "latency_repeats": 1}


def _validate(run, features, version, **gate):
    inputs = ModelValidationInputs(
        **run, training_set=features.training_set, challenger=version, gate={**FAST_GATE, **gate}
    )
    return model_validation(inputs)


def test_failed_gate_skips_deployment_and_a_pass_splits_traffic(run, features, tmp_path):
    first = train_logistic(run, features)
    checked = _validate(run, features, first.model_version)
    assert checked.passed and checked.champion_version is None
    with open(checked.report_path) as f:
        assert yaml.safe_load(f)["status"] == "PASSED"
    deployed = model_deployment(
        ModelDeploymentInputs(
            **run, version=first.model_version, policy="champion", online=features.online
        )
    )
    assert deployed.traffic == {"champion": 100} and deployed.champion_version == "1"

    # v2 fails the gate (an impossible calibration bound): deployment refuses, champion stays.
    second = train_logistic(run, features, overrides=["model.logistic_regression.c=0.001"])
    failed = _validate(run, features, second.model_version, max_calibration_error=1e-9)
    assert not failed.passed and failed.checks["calibration_error"] is False
    with pytest.raises(DeploymentRefused, match=r"validation_status='FAILED'"):
        model_deployment(ModelDeploymentInputs(**run, version=second.model_version))
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert registry.alias_version("churnops_churn", "champion") == "1"

    # v3 passes: the challenger policy gives it 20% next to the champion.
    third = train_logistic(run, features, overrides=["seed=7", "logger.log_plots=false"])
    assert _validate(run, features, third.model_version).passed
    deployed = model_deployment(
        ModelDeploymentInputs(**run, version=third.model_version, online=features.online)
    )
    assert deployed.traffic == {"champion": 80, "challenger": 20}
    assert (deployed.champion_version, deployed.challenger_version) == ("1", "3")
    endpoint = load_endpoint_config(deployed.endpoint_config)
    assert [e.model_uri for e in endpoint.served_entities] == [
        "models:/churnops_churn@champion",
        "models:/churnops_churn@challenger",
    ]
    assert endpoint.feature_lookup.online.path == features.online["path"]
