"""serving_check: the deployed endpoint over real HTTP, key-only requests, log == acks."""

from __future__ import annotations

import pytest

from churnops.pipelines.tasks.deployment import ModelDeploymentInputs, model_deployment
from churnops.pipelines.tasks.serving import ServingCheckInputs, serving_check
from churnops.pipelines.tasks.validation import ModelValidationInputs, model_validation
from tests.pipelines.tasks.conftest import train_logistic

pytestmark = pytest.mark.slow


def test_serves_the_split_and_logs_every_acknowledged_request(run, features):
    gate = {"latency_rows": 200, "latency_repeats": 1}
    for policy, seed in (("champion", 42), ("challenger", 7)):
        trained = train_logistic(run, features, overrides=[f"seed={seed}"])
        checked = model_validation(
            ModelValidationInputs(
                **run,
                training_set=features.training_set,
                challenger=trained.model_version,
                gate=gate,
            )
        )
        assert checked.passed
        deployed = model_deployment(
            ModelDeploymentInputs(
                **run, version=trained.model_version, policy=policy, online=features.online
            )
        )
    out = serving_check(
        ServingCheckInputs(
            **run,
            endpoint_config=deployed.endpoint_config,
            orders_path=features.orders_path,
            requests=80,
        )
    )
    assert out.acknowledged == 80 == sum(out.counts.values()) == out.log_rows
    assert out.errors == 0
    assert out.versions == {"champion": "1", "challenger": "2"}
    assert out.counts["champion"] > out.counts["challenger"] > 0
