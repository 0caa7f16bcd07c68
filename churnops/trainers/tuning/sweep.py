"""`sweep(cfg)`: one hyperparameter sweep, end to end, tracked in MLflow.

Load the training set and split it as `train()` does (the test split is never seen by a trial);
carve a validation split off the train split; run the trials on the configured backend; log each
trial as a nested run under one parent that records the best params and `best/val/auroc`; refit
the best on the whole train split, score the test split, log the churnops pyfunc and (when asked)
register it as `challenger`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from churnops.plugins import load_choice
from churnops.trainers.tuning.config import TuneConfig
from churnops.trainers.tuning.objective import TuneData
from churnops.trainers.tuning.trials import TrialRecord, TrialSearch

# The tuner backends by `backend`, imported only when chosen (ray and hyperopt are optional).
TUNERS = {
    "ray": "churnops.trainers.tuning.ray_backend:search",
    "hyperopt": "churnops.trainers.tuning.hyperopt_backend:search",
}


@dataclass
class SweepResult:
    """What a sweep found and where it was logged."""

    backend: str  # ray-optuna | ray-hyperopt | hyperopt-spark | hyperopt
    trials: list[TrialRecord]
    best: TrialRecord
    seconds: float  # the search alone (no data loading, refit or cluster start)
    parent_run_id: str | None
    tracking_uri: str | None
    test_metrics: dict[str, float] = field(default_factory=dict)
    model_uri: str | None = None
    registered_version: str | None = None

    @property
    def best_metric(self) -> float:
        return self.best.metrics["val/auroc"]

    @property
    def trials_per_min(self) -> float:
        return len(self.trials) / self.seconds * 60 if self.seconds > 0 else float("nan")


def backend_label(cfg: TuneConfig) -> str:
    if cfg.backend == "ray":
        return f"ray-{cfg.search}"
    return "hyperopt-spark" if cfg.spark_trials else "hyperopt"


def sweep(cfg: TuneConfig, spark: Any = None) -> SweepResult:
    """Run the sweep `cfg` describes (see the module docstring) and return its result.

    Args:
        cfg: the sweep config.
        spark: a SparkSession for hyperopt's SparkTrials; None: the one `cfg.engine` gives.
    """
    import mlflow

    from churnops.trainers.config import load_train_config
    from churnops.trainers.data import load_training_arrays
    from churnops.trainers.splits import split_train_test
    from churnops.trainers.tracking import MLflowTracker
    from churnops.trainers.train import input_example
    from churnops.trainers.training_set import prepare_training_data

    train_cfg = load_train_config([f"model={cfg.model}", f"seed={cfg.seed}",
                                   *cfg.train_overrides])  # fmt: skip
    # a customer table: columns typed, stored; the sweep's engine builds a training set
    prepared = prepare_training_data(train_cfg, cfg.engine)
    train_cfg, path = prepared.cfg, prepared.path
    arrays = load_training_arrays(
        path, train_cfg.features.names, train_cfg.data.label_column, train_cfg.data.id_column
    )
    x, y = arrays.x, arrays.y
    train_idx, test_idx = split_train_test(y, train_cfg.data.test_size, cfg.seed)
    fit_rel, val_rel = split_train_test(y[train_idx], cfg.val_size, cfg.seed)
    fit_idx, val_idx = train_idx[fit_rel], train_idx[val_rel]
    data = TuneData(x[fit_idx], y[fit_idx], x[val_idx], y[val_idx])
    base = train_cfg.model_dump(mode="json")

    logger = train_cfg.logger.model_copy(update={"experiment": cfg.experiment})
    tracker = MLflowTracker(logger, train_cfg.workdir)
    label = backend_label(cfg)
    with tracker.start_run(f"sweep-{cfg.model}-{label}"):
        parent_id = tracker.run_id
        mlflow.log_params({"tune.model": cfg.model, "tune.backend": label,
                           "tune.num_samples": cfg.num_samples,
                           "tune.max_concurrent": cfg.max_concurrent,
                           "tune.asha": cfg.use_asha, "training_set": str(path)})  # fmt: skip
        mlflow.log_dict(cfg.model_dump(mode="json"), "tune_config.json")
        search: TrialSearch = load_choice(TUNERS, cfg.backend, field="backend")
        records, seconds = search(cfg, base, data, Path(train_cfg.workdir), spark)
        active = mlflow.active_run()
        assert active is not None  # inside tracker.start_run
        experiment_id = active.info.experiment_id
        for rec in records:
            _log_trial(rec, experiment_id)
        best = max(records, key=lambda r: r.metrics.get("val/auroc", float("-inf")))
        mlflow.log_params({f"best.{k}": _text(v) for k, v in best.params.items()})
        mlflow.log_metrics({"best/val/auroc": best.metrics["val/auroc"], "trials": len(records),
                            "sweep_seconds": seconds,
                            "trials_per_min": len(records) / seconds * 60})  # fmt: skip
        result = SweepResult(label, records, best, seconds, parent_id, tracker.tracking_uri)
        if cfg.refit:
            model, test = _refit(best, base, x[train_idx], y[train_idx], x[test_idx], y[test_idx])
            result.test_metrics = test
            mlflow.log_metrics(test)
            example = input_example(path, list(train_cfg.features.names))
            result.model_uri, result.registered_version = _package(
                cfg, model, example, train_cfg.features.names, best, parent_id, label,
                train_cfg.logger.registry_uri, prepared.lookups,
            )  # fmt: skip
    return result


def _log_trial(rec: TrialRecord, experiment_id: str) -> None:
    import mlflow

    # The parent's experiment, explicitly: a nested run otherwise lands in the default one.
    name = f"trial-{rec.number:03d}"
    with mlflow.start_run(run_name=name, nested=True, experiment_id=experiment_id):
        mlflow.log_params({k: _text(v) for k, v in rec.params.items()})
        mlflow.log_metrics({**rec.metrics, "trial_seconds": rec.seconds})
        mlflow.set_tag("stopped_early", str(rec.stopped_early).lower())
        for row in rec.history:
            mlflow.log_metric("val/auroc", row["val/auroc"], step=int(row["epoch"]))


def _refit(
    best: TrialRecord, base: dict[str, Any], x_train: Any, y_train: Any, x_test: Any, y_test: Any
) -> tuple[Any, dict[str, float]]:
    """The best params fitted on the whole train split, scored on the test split."""
    from churnops.trainers.estimators import NetChurnModel
    from churnops.trainers.evaluation import binary_metrics
    from churnops.trainers.tuning.objective import build_baseline
    from churnops.trainers.tuning.space import apply_params

    cfg, estimator_params = apply_params(base, best.params)
    if cfg.model.name == "mlp":
        model = NetChurnModel(cfg)
    else:
        model = build_baseline(cfg, estimator_params, cpus=-1)
    model.fit(x_train, y_train)
    return model, binary_metrics(y_test, model.predict_proba(x_test)[:, 1], "test")


def _package(
    cfg: TuneConfig,
    model: Any,
    example: Any,
    columns: list[str],
    best: TrialRecord,
    parent_id: str | None,
    label: str,
    registry_uri: str | None = None,
    lookups: list[Any] = (),  # type: ignore[assignment]
) -> tuple[str, str | None]:
    from churnops.models.feature_spec import FeatureSpec
    from churnops.models.pyfunc import log_pyfunc_model

    spec = FeatureSpec(list(columns), list(lookups))  # by key, as train logs it
    info = log_pyfunc_model(model, spec, input_example=example)
    if not cfg.register_best.enabled:
        return info.model_uri, None
    import mlflow

    from churnops.trainers.registry import ModelRegistry

    registry = ModelRegistry(mlflow.get_tracking_uri(), registry_uri)
    version = registry.register(
        info.model_uri,
        cfg.register_best.model_name,
        description=f"{cfg.model}: best of {cfg.num_samples} trials ({label}), "
        f"val/auroc {best.metrics['val/auroc']:.4f}",
        tags={
            "tune.parent_run_id": parent_id,
            "tune.backend": label,
            "tune.best_params": json.dumps(best.params),
        },
        alias=cfg.register_best.alias,
    )
    return info.model_uri, str(version.version)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
