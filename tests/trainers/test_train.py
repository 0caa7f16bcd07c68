import mlflow
import pytest

from churnops.data.features import FEATURE_COLUMNS
from churnops.trainers.config import load_train_config
from churnops.trainers.train import train


def _run(result):
    mlflow.set_tracking_uri(result.tracking_uri)
    client = mlflow.MlflowClient()
    return client, client.get_run(result.run_id)


@pytest.mark.slow
def test_net_run_is_tracked_with_history_plots_config_and_lineage(tiny_overrides, tmp_path):
    result = train(load_train_config(tiny_overrides))
    assert result.tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    client, run = _run(result)
    metrics = run.data.metrics
    assert {"test/auroc", "test/pr_auc", "test/log_loss", "test/brier", "val/auroc"} <= set(metrics)
    assert metrics["test/auroc"] == result.metrics["test/auroc"] > 0.6
    epochs = client.get_metric_history(result.run_id, "val/auroc")
    assert [m.step for m in epochs] == [0, 1]
    assert run.data.params["model.name"] == "mlp"
    assert run.data.params["trainer.max_epochs"] == "2"
    assert run.data.tags["lineage.seed"] == "42"
    assert len(run.data.tags["lineage.training_set_sha256"]) == 64
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"resolved_config.yaml", "lineage.json", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert plots == {"plots/roc.png", "plots/pr.png", "plots/calibration.png"}
    assert (tmp_path / "mlartifacts").is_dir()  # artifacts beside the database
    # The run ends with the servable pyfunc: it scores as the fitted net does.
    _assert_pyfunc_matches(result)


@pytest.mark.parametrize("model", ["random_forest", "logistic_regression", "xgboost", "recency"])
def test_baseline_runs_share_the_split_and_metrics(tiny_overrides, model):
    # Fewer rounds, one thread: the test checks the shared split and tracking, not speed.
    quick = [
        "model.xgboost.n_estimators=60",
        "model.xgboost.n_jobs=1",
        "model.random_forest.n_jobs=1",
    ]
    result = train(load_train_config([*tiny_overrides, f"model={model}", *quick]))
    assert result.n_test == 4714  # 20% of 23,570, the same rows for every family
    assert 0.7 < result.metrics["test/auroc"] < 0.85
    client, _ = _run(result)
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    has_importance = "plots/feature_importance.png" in plots
    assert has_importance == (model in ("random_forest", "xgboost"))


def test_logger_none_tracks_nothing(tiny_overrides, tmp_path):
    result = train(load_train_config([*tiny_overrides, "model=recency", "logger=none"]))
    assert result.run_id is None and result.model_uri is None
    assert not (tmp_path / "mlflow.db").exists()


def _assert_pyfunc_matches(result, rows: int = 50):
    import numpy as np
    import pandas as pd

    from churnops.data.features import FEATURE_COLUMNS

    frame = pd.read_parquet(result.training_set).head(rows)
    served = mlflow.pyfunc.load_model(result.model_uri).predict(frame[list(FEATURE_COLUMNS)])
    direct = result.model.predict_proba(frame[list(FEATURE_COLUMNS)].to_numpy(np.float32))[:, 1]
    np.testing.assert_allclose(served["probability"].to_numpy(), direct, rtol=1e-5, atol=1e-6)


def test_train_logs_the_pyfunc_and_registers_it_when_asked(tiny_overrides, tmp_path):
    from churnops.models.pyfunc import load_feature_spec
    from churnops.trainers.registry import ModelRegistry

    cfg = load_train_config([*tiny_overrides, "model=logistic_regression",
                             "registry.enabled=true", "registry.model_name=tc"])  # fmt: skip
    result = train(cfg)
    _assert_pyfunc_matches(result)
    assert load_feature_spec(result.model_uri).feature_columns == list(FEATURE_COLUMNS)
    registry = ModelRegistry(result.tracking_uri)
    assert result.model_version == "1"
    assert registry.alias_version("tc", "challenger") == "1"
    version = registry.get_version("tc", "1")
    assert version.tags["train.run_id"] == result.run_id
    assert version.tags["data.as_of"] == "1997-09-30"


@pytest.mark.slow
def test_net_trains_from_the_arrow_stream_loader(tiny_overrides):
    result = train(load_train_config([*tiny_overrides, "trainer.loader=arrow-stream"]))
    assert result.model.fit_result.history[-1]["val/auroc"] > 0.6
    assert result.metrics["test/auroc"] > 0.6


def test_petastorm_with_ddp_is_refused_before_any_process_starts(tiny_overrides):
    cfg = load_train_config([*tiny_overrides, "trainer.loader=petastorm", "launcher.num_workers=2"])
    with pytest.raises(ValueError, match=r"trainer\.loader='petastorm' runs on one process.*"
                       r"use one of in-memory, arrow-stream, ray-data"):  # fmt: skip
        train(cfg)
