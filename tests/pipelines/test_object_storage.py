"""Every stage with every table on `s3://` (moto's S3 server, a real S3 HTTP API on 127.0.0.1):
features -> feature table -> training set -> train -> batch scoring -> inference log -> monitor
refresh, through the pipeline's own task functions. Only MLflow's SQLite store, the online store
and the task's local caches stay in the workdir."""

from __future__ import annotations

import datetime as dt

import pytest

from churnops.data import storage
from churnops.data.delta_tables import open_table

pytestmark = pytest.mark.slow

MODEL = "churnops_churn"


def test_features_to_monitor_with_every_table_on_s3(s3_storage, tmp_path, monkeypatch):
    import mlflow

    from churnops.pipelines.tasks.base import RunInputs
    from churnops.pipelines.tasks.batch import BatchInferenceInputs, batch_inference
    from churnops.pipelines.tasks.features import FeatureEngineeringInputs, feature_engineering
    from churnops.pipelines.tasks.monitoring import MonitorRefreshInputs, monitor_refresh
    from churnops.pipelines.tasks.training import ModelTrainingInputs, model_training
    from churnops.scenarios.replay import ReplayArm, ReplayConfig, replay

    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_storage.endpoint_url)  # MLflow's boto3
    root = f"{s3_storage.root}/churn"
    workdir = tmp_path / "work"
    run = {"workdir": str(workdir), "tables_root": root}
    cdnow = {"kind": "cdnow", "variant": "sample"}

    features = feature_engineering(FeatureEngineeringInputs(**run, source=cdnow))
    assert features.training_set == f"{root}/training_set.parquet"
    assert features.feature_store_root == f"{root}/feature_store"
    assert features.rows > 0 and features.published_rows > 0

    # Model artifacts on S3 too: the experiment's artifact location is a bucket.
    RunInputs(**run).use_tracking()
    mlflow.create_experiment("churnops-train", artifact_location=f"{s3_storage.root}/mlflow")
    trained = model_training(
        ModelTrainingInputs(
            **run, training_set=features.training_set, model="logistic_regression",
            overrides=["logger.log_plots=false"], model_name=MODEL, alias="champion",
        )
    )  # fmt: skip
    assert 0.5 < trained.test_auroc <= 1
    run_info = mlflow.get_run(trained.run_id).info
    assert run_info.artifact_uri.startswith(f"{s3_storage.root}/mlflow/")
    assert mlflow.get_run(trained.run_id).data.params.get("training_set") in (
        None, features.training_set,
    )  # fmt: skip

    scored = batch_inference(
        BatchInferenceInputs(
            **run, orders_path=features.orders_path, as_of=dt.date(1997, 12, 31),
            feature_store_root=features.feature_store_root, model_uri=f"models:/{MODEL}@champion",
        )
    )  # fmt: skip
    assert scored.predictions == f"{root}/predictions/1997-12-31.parquet"
    predictions = storage.read_parquet(scored.predictions)
    assert predictions.num_rows == scored.rows > 0
    assert predictions["customer_id"].to_pylist() == sorted(predictions["customer_id"].to_pylist())

    # The served model's inference log and the labels, as the serving side would leave them.
    log, labels = f"{root}/inference_log/churn", f"{root}/labels"
    replay(
        ReplayConfig(
            source=cdnow, start=dt.date(1997, 10, 31), end=dt.date(1997, 12, 31),
            arms=[ReplayArm(name="champion", model_uri=f"models:/{MODEL}@champion",
                            traffic_percentage=100)],
            inference_log=log, labels=labels, tracking_uri=RunInputs(**run).resolved_tracking_uri(),
        )
    )  # fmt: skip
    monitor = MonitorRefreshInputs(
        **run, inference_log=log, labels_table=labels, training_set=features.training_set,
        model_uri=f"models:/{MODEL}@champion", overrides=["ab=null"], report=False,
    )  # fmt: skip
    monitored = monitor_refresh(monitor)
    assert monitored.profile_metrics == f"{root}/monitoring/churn_profile_metrics"
    unpacked = open_table(f"{root}/monitoring/predictions").to_pyarrow_table()
    assert monitored.unpacked_rows == unpacked.num_rows > 0
    assert monitored.windows > 0 and monitored.mode == "full"
    drift = open_table(monitored.drift_metrics).to_pyarrow_table()
    assert drift.num_rows > 0
    assert monitor_refresh(monitor).mode == "unchanged"  # its state file on S3 was read back

    keys = s3_storage.object_keys()
    for table in (
        "churn/feature_store/churnops/cdnow/customer_features_monthly",
        "churn/monitoring/predictions", "churn/monitoring/baseline",
        "churn/monitoring/churn_profile_metrics", "churn/monitoring/churn_drift_metrics",
        "churn/inference_log/churn", "churn/labels",
    ):  # fmt: skip
        assert f"{table}/_delta_log/00000000000000000000.json" in keys, table
    for name in (
        "churn/training_set.parquet", "churn/training_set-orders.parquet",
        "churn/predictions/1997-12-31.parquet", "churn/monitoring/churn_state.json",
    ):  # fmt: skip
        assert name in keys
    assert any(k.startswith("mlflow/") and k.endswith("MLmodel") for k in keys)
    assert not [k for k in keys if ".tmp-" in k]  # no staging object left behind
    # Nothing of the tables fell back to the local workdir.
    local = {p.relative_to(workdir).parts[0] for p in workdir.rglob("*") if p.is_file()}
    assert not local & {"feature_store", "training_set.parquet", "predictions", "monitoring"}


def test_failed_scoring_leaves_no_predictions_on_s3(s3_storage):
    import pyarrow as pa

    from churnops.scoring.table import write_delta_batches, write_parquet_batches

    schema = pa.schema([("customer_id", pa.string()), ("probability", pa.float64())])

    def failing():
        yield pa.record_batch([pa.array(["a"]), pa.array([0.5])], schema=schema)
        raise RuntimeError("the model failed on the second batch")

    parquet = f"{s3_storage.root}/predictions/2024-01-31.parquet"
    with pytest.raises(RuntimeError, match="second batch"):
        write_parquet_batches(pa.RecordBatchReader.from_batches(schema, failing()), parquet)
    delta = f"{s3_storage.root}/predictions/table"
    with pytest.raises(Exception, match="second batch"):  # delta-rs wraps it in a DeltaError
        write_delta_batches(pa.RecordBatchReader.from_batches(schema, failing()), delta)
    assert not storage.exists(parquet)
    assert not [k for k in s3_storage.object_keys() if "_delta_log" in k]  # no commit, no table
