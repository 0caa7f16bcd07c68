"""serving_check: the deployed endpoint over real HTTP, key-only requests, log == acks; then
monitor_refresh over that very log."""

from __future__ import annotations

from pathlib import Path

import pytest

from churnops.monitoring.report.show import latest_drift
from churnops.pipelines.tasks.deployment import ModelDeploymentInputs, model_deployment
from churnops.pipelines.tasks.monitoring import MonitorRefreshInputs, monitor_refresh
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

    split = {"control": "champion", "treatment": "challenger",
             "expected_split": {"champion": 80, "challenger": 20}}  # fmt: skip
    monitor = MonitorRefreshInputs(
        **run,
        inference_log=out.inference_log,
        training_set=features.training_set,
        model_uri="models:/churnops_churn@champion",
        ab=split,
    )
    first = monitor_refresh(monitor)
    assert first.mode == "full" and first.unpacked_rows == 80  # one customer per request
    assert first.srm_pvalue > 0.001 and not first.retrain  # one window: no drift streak yet
    page = Path(first.report).read_text()  # the report, written and logged to MLflow
    assert "drift heatmap" in page and "score distribution" in page
    import mlflow

    runs = mlflow.search_runs(
        search_all_experiments=True, filter_string="tags.mlflow.runName = 'monitoring'"
    )
    logged = mlflow.artifacts.list_artifacts(run_id=runs.run_id[0], artifact_path="monitoring")
    assert "monitoring/report.html" in {a.path for a in logged}
    from churnops.config import CONFIG_DIR, load_config
    from churnops.monitoring.config import MonitorConfig

    cfg = load_config(
        MonitorConfig,
        CONFIG_DIR / "monitor" / "churn.yaml",
        [f"table={first.predictions}", f"output_dir={run['workdir']}/monitoring"],
    )
    drifted = {r["column"] for r in latest_drift(cfg, windows=1)}
    assert {"days_since_last_order", "total_orders", "probability"} <= drifted
    again = monitor_refresh(monitor)
    assert again.unpacked_rows == 0 and again.mode == "unchanged"
