"""`model_training`: `train(cfg)` on the run's training set, tracking store and registry."""

from __future__ import annotations

from pydantic import Field

from churnops.config import StrictConfig
from churnops.data.feature_store.config import FeatureStoreConfig
from churnops.pipelines.tasks.base import RunInputs


class ModelTrainingInputs(RunInputs):
    training_set: str  # from feature_engineering
    model: str = "mlp"  # configs/model/<name>.yaml
    overrides: list[str] = Field(default_factory=list)  # train config `a.b=value` / group=option
    register_model: bool = True
    model_name: str = "churnops_churn"
    alias: str | None = None  # e.g. "challenger"; None: registered without an alias
    experiment: str = "churnops-train"
    # Set: the model is logged through this feature store with lookups of its
    # `timeseries_table` (`fe.log_model` on Databricks, so serving looks features up); None:
    # plain MLflow logging, the features passed by the caller.
    feature_store: FeatureStoreConfig | None = None


class ModelTrainingOutputs(StrictConfig):
    model_uri: str
    run_id: str
    model_version: str | None
    metrics: dict[str, float]  # test/auroc, test/pr_auc, test/log_loss, test/brier
    test_auroc: float  # the gate's metric, on its own for condition tasks
    fit_seconds: float


def model_training(inputs: ModelTrainingInputs) -> ModelTrainingOutputs:
    """Train `inputs.model` and end with its pyfunc logged (and registered when asked)."""
    from churnops.trainers.config import load_train_config
    from churnops.trainers.train import train
    from churnops.trainers.training_set import store_model_logger

    inputs.use_tracking()
    cfg = load_train_config(
        [
            f"model={inputs.model}",
            f"workdir={inputs.workdir}",
            f"data.path={inputs.training_set}",
            f"logger.tracking_uri={inputs.resolved_tracking_uri()}",
            f"logger.registry_uri={inputs.resolved_registry_uri()}",
            f"logger.experiment={inputs.experiment}",
            "trainer.progress_bar=false",
            f"registry.enabled={str(inputs.register_model).lower()}",
            f"registry.model_name={inputs.model_name}",
            f"registry.alias={inputs.alias or 'null'}",
            *inputs.overrides,
        ]
    )
    log_model = None
    if inputs.feature_store is not None:  # the local store lives under the workdir, as features'
        store = inputs.feature_store.model_copy(update={"root": inputs.table_path("feature_store")})
        log_model = store_model_logger(store, inputs.training_set, cfg.data.label_column)
    result = train(cfg, log_model=log_model)
    assert result.model_uri is not None and result.run_id is not None  # logger is mlflow
    return ModelTrainingOutputs(
        model_uri=result.model_uri,
        run_id=result.run_id,
        model_version=result.model_version,
        metrics=result.metrics,
        test_auroc=result.metrics["test/auroc"],
        fit_seconds=result.fit_seconds,
    )
