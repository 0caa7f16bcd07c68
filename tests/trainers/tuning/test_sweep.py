"""Sweeps on CDNOW: trials as nested MLflow runs under one parent, the best registered as
challenger; Ray Tune (Optuna + ASHA for the net) and hyperopt on SparkTrials."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from churnops.data.features import FEATURE_COLUMNS
from churnops.trainers.tuning import load_tune_config, sweep


def test_every_tune_backend_has_a_tuner():
    from typing import get_args

    from churnops.plugins import load_choice
    from churnops.trainers.tuning.config import TuneConfig
    from churnops.trainers.tuning.sweep import TUNERS

    names = get_args(TuneConfig.model_fields["backend"].annotation)
    assert set(TUNERS) == set(names)
    for name in names:
        assert callable(load_choice(TUNERS, name, field="backend"))
    with pytest.raises(ValueError, match="backend='optuna': expected one of hyperopt, ray"):
        load_choice(TUNERS, "optuna", field="backend")


def _cfg(name, tmp_path, training_set, *overrides, train=()):
    train_overrides = [f"data.path={training_set}", f"workdir={tmp_path}", *train]
    return load_tune_config(name, [*overrides, f"train_overrides={train_overrides!r}"])


def _children(result):
    client = mlflow.MlflowClient(result.tracking_uri)
    parent = client.get_run(result.parent_run_id)
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'",
    )
    return parent, runs


def test_hyperopt_sweep_logs_nested_trials_and_registers_best(tmp_path, cdnow_training_set_path):
    from churnops.trainers.registry import CHALLENGER, ModelRegistry

    cfg = _cfg("random_forest", tmp_path, cdnow_training_set_path, "backend=hyperopt",
               "spark_trials=false", "num_samples=3", "register_best.enabled=true",
               "register_best.model_name=churn_tune_test")  # fmt: skip
    result = sweep(cfg)
    assert len(result.trials) == 3
    assert result.best.metrics["val/auroc"] == max(t.metrics["val/auroc"] for t in result.trials)
    assert 0.6 < result.best_metric < 1.0
    for trial in result.trials:
        assert trial.params["model.random_forest.n_estimators"] in (50, 100, 200)
        assert trial.params["estimator.min_samples_split"] in (2, 5, 10)

    parent, children = _children(result)
    assert len(children) == 3
    assert parent.data.metrics["best/val/auroc"] == pytest.approx(result.best_metric)
    best_depth = str(result.best.params["model.random_forest.max_depth"])
    assert parent.data.params["best.model.random_forest.max_depth"] == best_depth
    logged = sorted(c.data.metrics["val/auroc"] for c in children)
    assert logged == pytest.approx(sorted(t.metrics["val/auroc"] for t in result.trials))
    assert 0.6 < parent.data.metrics["test/auroc"] < 1.0

    registry = ModelRegistry(result.tracking_uri)
    version = registry.get_version("churn_tune_test", CHALLENGER)
    assert str(version.version) == result.registered_version
    assert version.tags["tune.parent_run_id"] == result.parent_run_id
    rows = pd.read_parquet(cdnow_training_set_path).head(4)[list(FEATURE_COLUMNS)]
    out = mlflow.pyfunc.load_model("models:/churn_tune_test@challenger").predict(rows)
    assert list(out.columns) == ["probability", "prediction"]


@pytest.mark.ray
def test_ray_optuna_asha_sweep_for_the_net(tmp_path, cdnow_training_set_path, ray_cluster):
    cfg = _cfg("mlp", tmp_path, cdnow_training_set_path, "num_samples=3", "refit=false",
               "asha.grace_period=1",
               train=["trainer.max_epochs=3", "trainer.limit_train_batches=4",
                      "trainer.progress_bar=false"])  # fmt: skip
    result = sweep(cfg)
    assert result.backend == "ray-optuna"
    assert len(result.trials) == 3
    for trial in result.trials:
        assert trial.history, "the net reports val/auroc every epoch"
        assert [h["epoch"] for h in trial.history] == list(range(1, len(trial.history) + 1))
        assert trial.params["model.mlp.hidden_sizes"] in cfg.space["model.mlp.hidden_sizes"].values
    _, children = _children(result)
    assert len(children) == 3
    client = mlflow.MlflowClient(result.tracking_uri)
    steps = client.get_metric_history(children[0].info.run_id, "val/auroc")
    assert len(steps) >= 1


@pytest.mark.spark
def test_hyperopt_spark_trials(tmp_path, cdnow_training_set_path, spark_engine):
    import yaml

    small = tmp_path / "small_rf.yaml"  # small forests: the test is about SparkTrials
    small.write_text(yaml.safe_dump({
        "model": "random_forest",
        "space": {"model.random_forest.n_estimators": {"choice": [20, 30]},
                  "model.random_forest.max_depth": {"choice": [4, 6]}},
    }))  # fmt: skip
    cfg = _cfg(str(small), tmp_path, cdnow_training_set_path, "backend=hyperopt",
               "num_samples=2", "refit=false")  # fmt: skip
    result = sweep(cfg, spark=spark_engine.session)
    assert result.backend == "hyperopt-spark"
    assert len(result.trials) == 2
    assert all(0.6 < t.metrics["val/auroc"] < 1.0 for t in result.trials)
    _, children = _children(result)
    assert len(children) == 2


@pytest.mark.ray
def test_ray_tune_with_the_hyperopt_searcher(tmp_path, cdnow_training_set_path, ray_cluster):
    cfg = _cfg("random_forest", tmp_path, cdnow_training_set_path, "backend=ray",
               "search=hyperopt", "num_samples=2", "refit=false")  # fmt: skip
    result = sweep(cfg)
    assert result.backend == "ray-hyperopt"
    assert len(result.trials) == 2
    assert 0.6 < result.best_metric < 1.0
    _, children = _children(result)
    assert len(children) == 2


def test_net_sweep_refits_the_best_and_registers_it(tmp_path, cdnow_training_set_path):
    from churnops.trainers.registry import CHALLENGER, ModelRegistry

    # Plain hyperopt in process: the cheapest backend; the test is about the refit path.
    cfg = _cfg("mlp", tmp_path, cdnow_training_set_path, "backend=hyperopt",
               "spark_trials=false", "num_samples=2", "register_best.enabled=true",
               "register_best.model_name=churn_net_tune_test",
               train=["trainer.max_epochs=1", "trainer.limit_train_batches=4",
                      "trainer.progress_bar=false"])  # fmt: skip
    result = sweep(cfg)
    assert len(result.trials) == 2
    assert 0.5 < result.test_metrics["test/auroc"] < 1.0

    parent, children = _children(result)
    assert len(children) == 2
    assert parent.data.metrics["test/auroc"] == pytest.approx(result.test_metrics["test/auroc"])
    # The refit model is logged under the parent run and registered as challenger.
    model_id = result.model_uri.removeprefix("models:/")
    assert mlflow.MlflowClient(result.tracking_uri).get_logged_model(model_id).source_run_id == (
        result.parent_run_id
    )
    registry = ModelRegistry(result.tracking_uri)
    version = registry.get_version("churn_net_tune_test", CHALLENGER)
    assert str(version.version) == result.registered_version
    assert version.run_id == result.parent_run_id
    assert version.tags["tune.parent_run_id"] == result.parent_run_id
    best_lr = result.best.params["model.mlp.lr"]
    assert json.loads(version.tags["tune.best_params"])["model.mlp.lr"] == pytest.approx(best_lr)

    rows = pd.read_parquet(cdnow_training_set_path).head(4)[list(FEATURE_COLUMNS)]
    loaded = mlflow.pyfunc.load_model("models:/churn_net_tune_test@challenger")
    out = loaded.predict(rows)
    assert list(out.columns) == ["probability", "prediction"]
    assert out["probability"].between(0, 1).all()
