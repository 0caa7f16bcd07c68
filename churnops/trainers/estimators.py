"""Every model family behind one `fit(x, y)` / `predict_proba(x)` interface.

`build_model(cfg)` returns a baseline from `churnops.models.baselines` or `NetChurnModel`, which
trains the Lightning net through a launcher and keeps the best weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from churnops.models.preprocessing import FeaturePreprocessor
from churnops.trainers.config import TrainConfig
from churnops.trainers.fit import (
    NetFitJob,
    NetFitResult,
    build_net,
    check_loader_for_ranks,
    scratch_dir,
)
from churnops.trainers.launchers import Launcher, make_launcher
from churnops.trainers.splits import split_train_test


class NetChurnModel:
    """The tabular net with the baselines' interface.

    `fit` carves a stratified validation split off the rows it is given (for early stopping and
    checkpointing on val/auroc), fits the preprocessing on the rest, and trains through
    `launcher` (in-process by default).
    """

    name = "mlp"

    def __init__(self, cfg: TrainConfig, launcher: Launcher | None = None):
        self.cfg = cfg
        self.launcher = launcher or make_launcher(cfg.launcher)
        self.net: torch.nn.Module | None = None
        self.fit_result: NetFitResult | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> NetChurnModel:
        cfg = self.cfg
        fit_idx, val_idx = split_train_test(y, test_size=cfg.data.val_size, seed=cfg.seed)
        job = make_fit_job(
            cfg, x[fit_idx], y[fit_idx], x[val_idx], y[val_idx],
            scratch_dir(Path(cfg.workdir, "checkpoints")),
        )  # fmt: skip
        if cfg.trainer.loader != "in-memory":
            check_loader_for_ranks(cfg.trainer.loader, self.launcher.num_workers)  # up front
            job.train_path, job.val_path = _write_splits(job)
        self.fit_result = self.launcher.launch(job)
        net = build_net(job)
        net.load_state_dict(self.fit_result.state_dict)
        self.net = net.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("NetChurnModel.predict_proba called before fit")
        device = next(self.net.parameters()).device
        xt = torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)
        p = torch.cat([torch.sigmoid(self.net(b)).float() for b in xt.split(65536)]).cpu().numpy()
        return np.column_stack([1 - p, p])


def make_fit_job(
    cfg: TrainConfig,
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    checkpoint_dir: str,
) -> NetFitJob:
    """The net's fit job for `cfg` on these rows: preprocessing and `pos_weight` from the fit
    rows only. `NetChurnModel` and every tuning trial build their jobs here."""
    categorical = cfg.features.categorical
    numeric = [i for i, c in enumerate(cfg.features.columns) if c not in categorical]
    preprocessor = FeaturePreprocessor.fit(x_fit[:, numeric], log1p=cfg.features.log1p)
    pos_weight = cfg.model.mlp.pos_weight
    if pos_weight == "auto":
        positives = float(y_fit.sum())
        pos_weight = (len(y_fit) - positives) / max(positives, 1.0)
    return NetFitJob(
        x_train=x_fit,
        y_train=y_fit,
        x_val=x_val,
        y_val=y_val,
        feature_columns=list(cfg.features.columns),
        categorical=dict(categorical),
        preprocessor=preprocessor,
        model=cfg.model.mlp,
        trainer=cfg.trainer,
        seed=cfg.seed,
        checkpoint_dir=checkpoint_dir,
        pos_weight=pos_weight,
    )


def _write_splits(job: NetFitJob) -> tuple[str, str]:
    """The fit and val rows as Parquet beside the checkpoints, for the streaming loaders."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from churnops.trainers.fit import LABEL

    folder = Path(f"{job.checkpoint_dir}-splits")  # not inside: checkpoints want their own dir
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, x, y in (("train", job.x_train, job.y_train), ("val", job.x_val, job.y_val)):
        columns = {c: x[:, i] for i, c in enumerate(job.feature_columns)}
        path = folder / f"{name}.parquet"
        pq.write_table(pa.table({**columns, LABEL: y.astype(np.float32)}), path)
        paths.append(str(path))
    return paths[0], paths[1]


def build_model(cfg: TrainConfig, launcher: Launcher | None = None) -> Any:
    """The model `cfg.model.name` names; the net trains through `launcher` (or cfg.launcher)."""
    from churnops.models import baselines

    m = cfg.model
    if m.name == "mlp":
        return NetChurnModel(cfg, launcher)
    if m.name == "random_forest":
        rf = m.random_forest
        return baselines.RandomForestChurnModel(
            rf.n_estimators, rf.max_depth, seed=cfg.seed, n_jobs=rf.n_jobs
        )
    if m.name == "logistic_regression":
        lr = m.logistic_regression
        return baselines.LogisticChurnModel(c=lr.c, max_iter=lr.max_iter, seed=cfg.seed)
    if m.name == "xgboost":
        return baselines.XGBoostChurnModel(**m.xgboost.model_dump(), seed=cfg.seed)
    if m.name == "recency":
        column = cfg.features.recency_column
        if column not in cfg.features.columns:
            raise ValueError(f"features.recency_column={column!r}: not among features.columns")
        return baselines.RecencyChurnModel(cfg.features.columns.index(column), seed=cfg.seed)
    raise ValueError(f"model.name={m.name!r}: unknown model family")
