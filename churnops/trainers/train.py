"""`train(cfg)`: one training run, end to end, tracked in MLflow.

Load the training set, split it (stratified, seeded), fit the configured model family (the net
through the configured launcher), score the held-out test split, log everything, return it.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from churnops.trainers.config import TrainConfig
from churnops.trainers.data import cdnow_training_set, load_training_arrays
from churnops.trainers.estimators import build_model
from churnops.trainers.evaluation import binary_metrics, save_plots
from churnops.trainers.splits import split_train_test
from churnops.trainers.tracking import make_tracker, training_set_lineage


@dataclass
class TrainResult:
    """What one run produced: test metrics, the fitted model and where it was tracked."""

    model_name: str
    metrics: dict[str, float]  # test/auroc, test/pr_auc, test/log_loss, test/brier
    fit_seconds: float
    model: Any
    run_id: str | None
    tracking_uri: str | None
    training_set: Path
    n_train: int
    n_test: int
    launcher: str
    history: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """One row for a summary table."""
        return {
            "model": self.model_name,
            "launcher": self.launcher,
            "roc_auc": self.metrics["test/auroc"],
            "pr_auc": self.metrics["test/pr_auc"],
            "log_loss": self.metrics["test/log_loss"],
            "brier": self.metrics["test/brier"],
            "fit_s": self.fit_seconds,
        }


def resolve_training_set(cfg: TrainConfig) -> Path:
    """`data.path`, or CDNOW's training set built once under the workdir when it is null."""
    if cfg.data.path:
        return Path(cfg.data.path)
    path = Path(cfg.workdir) / "training_set.parquet"
    return path if path.exists() else cdnow_training_set(path)


def train(cfg: TrainConfig) -> TrainResult:
    """Run one training job as `cfg` says and return its result (see `TrainResult`)."""
    path = resolve_training_set(cfg)
    data = load_training_arrays(
        path, cfg.features.columns, cfg.data.label_column, cfg.data.id_column
    )
    train_idx, test_idx = split_train_test(data.y, cfg.data.test_size, cfg.seed)
    model = build_model(cfg)
    launcher = cfg.launcher.name if cfg.model.name == "mlp" else "in-process"
    tracker = make_tracker(cfg.logger, cfg.workdir)
    run_name = cfg.logger.run_name or f"{cfg.model.name}-{cfg.data.name}"
    with tracker.start_run(run_name):
        tracker.log_config(cfg)
        tracker.log_lineage(training_set_lineage(path, cfg, len(data.y)))
        start = time.perf_counter()
        model.fit(data.x[train_idx], data.y[train_idx])
        fit_seconds = time.perf_counter() - start
        p = model.predict_proba(data.x[test_idx])[:, 1]
        y_test = data.y[test_idx]
        scores = binary_metrics(y_test, p)
        metrics = {f"test/{'auroc' if k == 'roc_auc' else k}": v for k, v in scores.items()}
        history = getattr(getattr(model, "fit_result", None), "history", None) or []
        tracker.log_history(history)
        tracker.log_metrics({**metrics, "fit_seconds": fit_seconds})
        with tempfile.TemporaryDirectory() as tmp:
            if cfg.logger.log_plots and cfg.logger.name != "none":
                importances = getattr(model, "feature_importances", None)
                plots = save_plots(
                    y_test, p, Path(tmp, "plots"), f"{cfg.model.name} on {cfg.data.name}",
                    feature_names=data.feature_columns,
                    importances=np.asarray(importances) if importances is not None else None,
                )  # fmt: skip
                tracker.log_artifacts(plots, "plots")
            tracker.log_artifacts([_save_model(model, Path(tmp))], "model")
    return TrainResult(
        model_name=cfg.model.name,
        metrics=metrics,
        fit_seconds=fit_seconds,
        model=model,
        run_id=tracker.run_id,
        tracking_uri=tracker.tracking_uri,
        training_set=path,
        n_train=len(train_idx),
        n_test=len(test_idx),
        launcher=launcher,
        history=history,
    )


def _save_model(model: Any, folder: Path) -> Path:
    """The net's weights (state dict, preprocessing buffers included), or the pickled baseline."""
    if getattr(model, "net", None) is not None:
        import torch

        path = folder / "net_state_dict.pt"
        torch.save(model.net.state_dict(), path)
    else:
        path = folder / "model.pkl"
        path.write_bytes(pickle.dumps(model))
    return path
