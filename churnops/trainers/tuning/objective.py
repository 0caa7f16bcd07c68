"""One trial: fit a model family with a trial's params on the tuning split, score `val/auroc`.

The baselines fit once and report once. The net trains with Lightning and reports `val/auroc`
after every epoch through `report`, so Ray Tune's ASHA can stop a poor trial early.
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
    scores = binary_metrics(data.y_val, p)
    metrics = {f"val/{'auroc' if k == 'roc_auc' else k}": v for k, v in scores.items()}
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
    import lightning.pytorch as pl
    import torch

    from churnops.models.lit_module import MONITOR, ChurnLitModule
    from churnops.models.preprocessing import FeaturePreprocessor
    from churnops.trainers.datamodule import InMemoryBatches
    from churnops.trainers.fit import NetFitJob, build_net

    torch.set_num_threads(cpus)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    numeric = [i for i, c in enumerate(cfg.features.columns) if c not in cfg.features.categorical]
    pre = FeaturePreprocessor.fit(data.x_fit[:, numeric], log1p=cfg.features.log1p)
    positives = float(data.y_fit.sum())
    pos_weight = cfg.model.mlp.pos_weight
    if pos_weight == "auto":
        pos_weight = (len(data.y_fit) - positives) / max(positives, 1.0)
    job = NetFitJob(
        data.x_fit, data.y_fit, data.x_val, data.y_val, list(cfg.features.columns),
        dict(cfg.features.categorical), pre, cfg.model.mlp, cfg.trainer, cfg.seed, "",
        pos_weight=pos_weight,
    )  # fmt: skip
    module = ChurnLitModule(build_net(job), lr=cfg.model.mlp.lr,
                            weight_decay=cfg.model.mlp.weight_decay, pos_weight=pos_weight,
                            scheduler=cfg.model.mlp.scheduler)  # fmt: skip
    best: dict[str, Any] = {"score": -1.0, "state": None}

    class ReportEachEpoch(pl.Callback):
        """Keep the best epoch's weights; hand `val/auroc` to the tuner after each epoch."""

        def on_train_epoch_end(self, trainer: Any, lit: Any) -> None:
            score = trainer.callback_metrics.get(MONITOR)
            if score is None:
                return
            score = float(score)
            if score > best["score"]:
                best["score"] = score
                best["state"] = {k: v.detach().clone() for k, v in lit.net.state_dict().items()}
            if report is not None:
                report({"val/auroc": score, "epoch": float(trainer.current_epoch + 1)})

    trainer = pl.Trainer(
        max_epochs=cfg.trainer.max_epochs, accelerator="cpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, callbacks=[ReportEachEpoch()],
        limit_train_batches=cfg.trainer.limit_train_batches,
    )  # fmt: skip
    bs = cfg.trainer.batch_size
    train = InMemoryBatches(data.x_fit, data.y_fit, bs, shuffle=True, seed=cfg.seed,
                            drop_last=True)  # fmt: skip
    val = InMemoryBatches(data.x_val, data.y_val, max(bs, 4096))
    trainer.fit(module, train_dataloaders=train, val_dataloaders=val)
    net = module.net
    if best["state"] is not None:
        net.load_state_dict(best["state"])
    net.eval()
    with torch.no_grad():
        p = torch.sigmoid(net(torch.as_tensor(data.x_val, dtype=torch.float32))).numpy()
    return p, trainer.current_epoch
