"""`tuning`: a hyperparameter sweep whose best trial is refitted, logged and registered."""

from __future__ import annotations

from pydantic import Field

from churnops.config import StrictConfig
from churnops.pipelines.tasks.base import RunInputs


class TuningInputs(RunInputs):
    training_set: str  # from feature_engineering
    tune: str = "random_forest"  # configs/tune/<name>.yaml, or a YAML path
    backend: str = Field(default="hyperopt", pattern="^(hyperopt|ray)$")
    num_samples: int = Field(default=4, ge=1)
    overrides: list[str] = Field(default_factory=list)  # tune config `a.b=value`
    train_overrides: list[str] = Field(default_factory=list)  # every trial's train config
    model_name: str = "churnops_churn"
    alias: str = "challenger"


class TuningOutputs(StrictConfig):
    model_uri: str
    model_version: str
    parent_run_id: str
    best_val_auroc: float
    best_params: dict
    trials: int
    test_metrics: dict[str, float]
    seconds: float


def tuning(inputs: TuningInputs) -> TuningOutputs:
    """Sweep, refit the best on the whole train split, register it under `alias`."""
    from churnops.trainers.tuning import load_tune_config, sweep

    inputs.use_tracking()
    train_overrides = [
        f"data.path={inputs.training_set}",
        f"workdir={inputs.workdir}",
        f"logger.tracking_uri={inputs.resolved_tracking_uri()}",
        f"logger.registry_uri={inputs.resolved_registry_uri()}",
        "logger.log_plots=false",
        "trainer.progress_bar=false",
        *inputs.train_overrides,
    ]
    cfg = load_tune_config(
        inputs.tune,
        [
            f"backend={inputs.backend}",
            "spark_trials=false",
            f"num_samples={inputs.num_samples}",
            "register_best.enabled=true",
            f"register_best.model_name={inputs.model_name}",
            f"register_best.alias={inputs.alias}",
            f"train_overrides={train_overrides!r}",
            *inputs.overrides,
        ],
    )
    result = sweep(cfg)
    assert result.model_uri and result.registered_version and result.parent_run_id
    return TuningOutputs(
        model_uri=result.model_uri,
        model_version=result.registered_version,
        parent_run_id=result.parent_run_id,
        best_val_auroc=result.best_metric,
        best_params=result.best.params,
        trials=len(result.trials),
        test_metrics=result.test_metrics,
        seconds=result.seconds,
    )
