"""One trial: fit a model family with a trial's params on the tuning split, score `val/auroc`.

The baselines fit once and report once. The net trains through `fit_net`, the one training loop
`train` uses, and reports `val/auroc` after every epoch through `report`, so Ray Tune's ASHA can
stop a poor trial early.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from churnops.trainers.tuning.space import apply_params

Report = Callable[[dict[str, float]], None]


@dataclass
class TuneData:
    """The tuning split: fit rows and validation rows (both from the train split)."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def evaluate_trial(
    params: dict[str, Any],
    base: dict[str, Any],
    data: TuneData,
    cpus: int = 1,
    report: Report | None = None,
) -> dict[str, float]:
    """Fit with `params` applied to the train config `base` (a dict); return the val metrics.

    Returns:
        `val/auroc`, `val/pr_auc`, `val/log_loss`, `val/brier`, `fit_seconds`, `epochs` (net).
    """
    from churnops.trainers.evaluation import binary_metrics

    cfg, estimator_params = apply_params(base, params)
    start = time.perf_counter()
    if cfg.model.name == "mlp":
        if estimator_params:
            raise ValueError(f"space: estimator.* params {sorted(estimator_params)} are for the "
                             "sklearn / XGBoost families, not the net")  # fmt: skip
        p, epochs = _fit_net(cfg, data, cpus, report)
    else:
        model = build_baseline(cfg, estimator_params, cpus)
        model.fit(data.x_fit, data.y_fit)
        p, epochs = model.predict_proba(data.x_val)[:, 1], 0
    metrics = binary_metrics(data.y_val, p, "val")
    metrics["fit_seconds"] = time.perf_counter() - start
    if epochs:
        metrics["epochs"] = float(epochs)
    return metrics


def build_baseline(cfg: Any, estimator_params: dict[str, Any], cpus: int = 1) -> Any:
    """The configured baseline with estimator-level params set and `cpus` threads."""
    from churnops.trainers.estimators import build_model

    model = build_model(cfg)
    estimator = getattr(model, "model", None)
    if estimator is None or not hasattr(estimator, "set_params"):
        if estimator_params:
            raise ValueError(f"model {cfg.model.name!r} takes no estimator.* params")
        return model
    known = estimator.get_params()
    unknown = [k for k in estimator_params if k not in known]
    if unknown:
        raise ValueError(
            f"space: estimator.{unknown[0]} is not a parameter of {type(estimator).__name__}"
        )
    if "n_jobs" in known:
        estimator_params = {"n_jobs": cpus, **estimator_params}
    estimator.set_params(**estimator_params)
    return model


def _fit_net(cfg: Any, data: TuneData, cpus: int, report: Report | None) -> tuple[np.ndarray, int]:
    """The trial's net through `fit_net`, the same fit as `train`, on the trainer config's
    device; its best epoch's weights score the validation rows."""
    import tempfile

    import torch

    from churnops.trainers.estimators import make_fit_job, table_encoder
    from churnops.trainers.fit import build_net, fit_net

    # Trials share the machine: `cpus` threads each, no progress bars.
    cfg = cfg.model_copy(update={"trainer": cfg.trainer.model_copy(
        update={"threads": cpus, "progress_bar": False})})  # fmt: skip
    encoder = table_encoder(cfg).fit(data.x_fit)  # categories learnt on the fit rows only
    x_fit, x_val = encoder.transform(data.x_fit), encoder.transform(data.x_val)
    with tempfile.TemporaryDirectory(prefix="trial-") as checkpoints:
        job = make_fit_job(cfg, encoder, x_fit, data.y_fit, x_val, data.y_val, checkpoints)
        result = fit_net(job, "single", report=report)
    net = build_net(job)
    net.load_state_dict(result.state_dict)
    net.eval()
    with torch.no_grad():
        p = torch.sigmoid(net(torch.as_tensor(x_val, dtype=torch.float32))).numpy()
    return p, result.epochs
