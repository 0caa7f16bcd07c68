"""The registry part of `churnops demo`: tune briefly, gate and promote the best as champion, then
register a second candidate as challenger (gated, not promoted) for the serving A/B demo."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from churnops.trainers.registry.config import ValidationGateConfig
from churnops.trainers.registry.registry import CHALLENGER, CHAMPION


def run_registry_demo(
    training_set_path: Path,
    workdir: Path,
    model_name: str = "churnops_churn",
    num_samples: int = 4,
    backend: str = "hyperopt",
    seed: int = 42,
) -> dict[str, Any]:
    """Tune a RandomForest briefly, register the best, gate it, promote it to champion; then fit a
    logistic regression, register it as challenger and gate it without promoting.

    Everything is tracked in `workdir/mlflow.db` (artifacts in `workdir/mlartifacts`).

    Args:
        training_set_path: a training-set Parquet (customer_id, cutoff, the 18 features, churn).
        workdir: where MLflow's store, checkpoints and Ray results go.
        model_name: the registered model.
        num_samples: tuning trials.
        backend: "hyperopt" (serial TPE, quickest to start) or "ray" (Ray Tune + Optuna).
        seed: for splits and searches.

    Returns:
        `champion_uri`, `challenger_uri` (`models:/<name>@champion` / `@challenger`),
        `champion_version`, `challenger_version`, `tracking_uri`, `sweep_run_id`,
        `best_val_auroc`, `champion_gate`, `challenger_gate` (PASSED / FAILED), `seconds`.
    """
    import mlflow
    import numpy as np
    import pandas as pd

    from churnops.data.features import FEATURE_COLUMNS
    from churnops.models.baselines import LogisticChurnModel
    from churnops.models.feature_spec import FeatureSpec
    from churnops.models.pyfunc import log_pyfunc_model
    from churnops.trainers.registry.gate import validate_challenger
    from churnops.trainers.registry.registry import ModelRegistry, ensure_experiment
    from churnops.trainers.splits import split_train_test
    from churnops.trainers.tracking import default_tracking_uri
    from churnops.trainers.tuning import load_tune_config, sweep

    start = time.perf_counter()
    workdir = Path(workdir)
    tracking_uri = default_tracking_uri(workdir)
    train_overrides = [f"data.path={Path(training_set_path).resolve()}", f"workdir={workdir}",
                       "logger.log_plots=false"]  # fmt: skip
    cfg = load_tune_config(
        "random_forest",
        [f"backend={backend}", "spark_trials=false", f"num_samples={num_samples}",
         f"seed={seed}", "register_best.enabled=true", f"register_best.model_name={model_name}",
         f"train_overrides={train_overrides!r}"],
    )  # fmt: skip
    result = sweep(cfg)
    registry = ModelRegistry(tracking_uri)
    # The holdout: the test split of the same training set, never seen by a trial or the refit.
    frame = pd.read_parquet(training_set_path)
    y = frame["churn"].to_numpy().astype(np.int64)
    train_idx, test_idx = split_train_test(y, 0.2, seed)
    holdout = frame.iloc[test_idx].drop(columns=["churn"]).reset_index(drop=True)
    gate = ValidationGateConfig(latency_rows=500, latency_repeats=3)
    first = validate_challenger(registry, model_name, holdout, y[test_idx], gate, promote=True)

    # A second candidate for the A/B test: gated, reported, left as challenger.
    columns = list(FEATURE_COLUMNS)
    x = frame[columns].to_numpy(np.float32)
    candidate = LogisticChurnModel(seed=seed).fit(x[train_idx], y[train_idx])
    with mlflow.start_run(experiment_id=ensure_experiment("churnops-registry"),
                          run_name="candidate-logistic_regression"):  # fmt: skip
        info = log_pyfunc_model(candidate, FeatureSpec(columns),
                                input_example=frame[columns].head(5))  # fmt: skip
    registry.register(info.model_uri, model_name, alias=CHALLENGER,
                      description="logistic regression candidate for the A/B test")  # fmt: skip
    second = validate_challenger(registry, model_name, holdout, y[test_idx], gate, promote=False)

    out = {
        "champion_uri": f"models:/{model_name}@{CHAMPION}",
        "challenger_uri": f"models:/{model_name}@{CHALLENGER}",
        "champion_version": registry.alias_version(model_name, CHAMPION),
        "challenger_version": registry.alias_version(model_name, CHALLENGER),
        "tracking_uri": tracking_uri,
        "sweep_run_id": result.parent_run_id,
        "best_val_auroc": result.best_metric,
        "champion_gate": first.status,
        "challenger_gate": second.status,
        "seconds": time.perf_counter() - start,
    }
    auc = {c.name: c.value for c in second.checks}.get("roc_auc")
    print(
        f"sweep: {len(result.trials)} RandomForest trials ({result.backend}) in "
        f"{result.seconds:.1f}s, best val/auroc {result.best_metric:.4f}\n"
        f"gate {first.status}: {model_name} v{first.challenger_version} is champion "
        f"({out['champion_uri']})\n"
        f"challenger v{out['challenger_version']} (logistic regression): gate {second.status}"
        + (f", test auroc {auc:.4f}" if isinstance(auc, float) else "")
        + f" ({out['challenger_uri']}, not promoted: A/B first)\n"
        f"registry at {tracking_uri} in {out['seconds']:.1f}s"
    )
    return out
