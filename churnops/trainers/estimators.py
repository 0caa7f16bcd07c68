"""Every model family behind one `fit(x, y)` / `predict_proba(x)` interface.

`build_model(cfg)` returns a `ChurnModel` of the family `model.name` names (`MODEL_FAMILIES`): a
baseline from `churnops.models.baselines` or `NetChurnModel`, which trains the Lightning net
through a launcher and keeps the best weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from churnops.models.base import ChurnModel
from churnops.models.encoding import TableEncoder
from churnops.plugins import load_choice
from churnops.trainers.config import TrainConfig
from churnops.trainers.launchers import Launcher, make_launcher
from churnops.trainers.splits import split_train_test

if TYPE_CHECKING:  # torch is imported when a net is built: the baselines train without it
    import torch

    from churnops.trainers.fit import NetFitJob, NetFitResult


class NetChurnModel:
    """The tabular net with the baselines' interface.

    `fit` carves a stratified validation split off the rows it is given (for early stopping and
    checkpointing on val/auroc), fits the encoder and the preprocessing on the rest, trains
    through `launcher` (in-process by default), then fits a temperature on the validation split
    (`model.mlp.temperature_scaling`). `encoder` travels with the model, so it takes raw rows.
    """

    name = "mlp"

    def __init__(self, cfg: TrainConfig, launcher: Launcher | None = None):
        self.cfg = cfg
        self.launcher = launcher or make_launcher(cfg.launcher, cfg.engine)
        self.encoder = table_encoder(cfg)
        self.net: torch.nn.Module | None = None
        self.fit_result: NetFitResult | None = None

    def fit(self, x: Any, y: np.ndarray) -> NetChurnModel:
        from churnops.models.net import fit_temperature
        from churnops.trainers.data import choose_loader
        from churnops.trainers.fit import build_net, check_loader_for_ranks, scratch_dir

        cfg = self.cfg
        fit_idx, val_idx = split_train_test(y, test_size=cfg.data.val_size, seed=cfg.seed)
        encoder = self.encoder.fit(_rows(x, fit_idx))
        codes = encoder.transform(x)
        job = make_fit_job(
            cfg, encoder, codes[fit_idx], y[fit_idx], codes[val_idx], y[val_idx],
            scratch_dir(Path(cfg.workdir, "checkpoints")),
        )  # fmt: skip
        loader = choose_loader(cfg.trainer.loader, len(fit_idx), codes.shape[1],
                               cfg.trainer.memory_budget_mb)  # fmt: skip
        if loader != cfg.trainer.loader:
            job.trainer = job.trainer.model_copy(update={"loader": loader})
        if loader != "in-memory":
            check_loader_for_ranks(loader, self.launcher.num_workers)  # up front
            job.train_path, job.val_path = _write_splits(job)
            # The loaders read the files: a launcher must not ship (or hold) the rows again.
            job.x_train, job.x_val = job.x_train[:0], job.x_val[:0]
        self.fit_result = self.launcher.launch(job)
        net = build_net(job)
        net.load_state_dict(self.fit_result.state_dict)
        self.net = net.eval()
        if cfg.model.mlp.temperature_scaling and len(np.unique(y[val_idx])) == 2:
            temperature = fit_temperature(self._logits(codes[val_idx]), y[val_idx])
            net.temperature.fill_(temperature)
            self.fit_result.extra["temperature"] = temperature
        return self

    def _logits(self, codes: np.ndarray) -> np.ndarray:
        import torch

        from churnops.models.net import forward_in_blocks

        assert self.net is not None
        device = next(self.net.parameters()).device
        with torch.no_grad():
            xt = torch.as_tensor(np.asarray(codes, dtype=np.float32), device=device)
            return forward_in_blocks(self.net, xt).cpu().numpy()

    def predict_proba(self, x: Any) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("NetChurnModel.predict_proba called before fit")
        p = 1 / (1 + np.exp(-self._logits(self.encoder.transform(x)).astype(np.float64)))
        return np.column_stack([1 - p, p])


def make_fit_job(
    cfg: TrainConfig,
    encoder: TableEncoder,
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    checkpoint_dir: str,
) -> NetFitJob:
    """The net's fit job for `cfg` on rows already encoded by the fitted `encoder`:
    preprocessing and `pos_weight` from the fit rows only. `NetChurnModel` and every tuning
    trial build their jobs here."""
    from churnops.models.preprocessing import FeaturePreprocessor
    from churnops.trainers.fit import NetFitJob

    numeric = encoder.numeric_columns
    preprocessor = FeaturePreprocessor.fit(
        encoder.numeric_part(x_fit),
        transforms=[encoder.numeric_transforms[c] for c in numeric],
    )
    pos_weight = cfg.model.mlp.pos_weight
    if pos_weight == "auto":
        positives = float(y_fit.sum())
        pos_weight = (len(y_fit) - positives) / max(positives, 1.0)
    return NetFitJob(
        x_train=x_fit,
        y_train=y_fit,
        x_val=x_val,
        y_val=y_val,
        feature_columns=list(encoder.columns),
        categorical=dict(zip(encoder.categorical, encoder.cardinalities, strict=True)),
        preprocessor=preprocessor,
        model=cfg.model.mlp,
        trainer=cfg.trainer,
        seed=cfg.seed,
        checkpoint_dir=checkpoint_dir,
        pos_weight=pos_weight,
    )


def table_encoder(cfg: TrainConfig) -> TableEncoder:
    """An unfitted encoder for the configured columns, categories and numeric transforms."""
    f = cfg.features
    return TableEncoder(
        f.names,
        categorical=f.categorical,
        transforms=f.transforms,
        default_transform="standardize" if f.log1p == "none" else "auto",
    )


def _rows(x: Any, index: np.ndarray) -> Any:
    return x.iloc[index] if hasattr(x, "iloc") else x[index]


def _write_splits(job: NetFitJob) -> tuple[str, str]:
    """The fit and val rows as Parquet beside the checkpoints, for the streaming loaders."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from churnops.trainers.fit import LABEL

    folder = Path(f"{job.checkpoint_dir}-splits")  # not inside: checkpoints want their own dir
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    schema = pa.schema([*((c, pa.float32()) for c in job.feature_columns), (LABEL, pa.float32())])
    for name, x, y in (("train", job.x_train, job.y_train), ("val", job.x_val, job.y_val)):
        path = folder / f"{name}.parquet"
        with pq.ParquetWriter(path, schema) as writer:  # a block of rows at a time: no Arrow copy
            for start in range(0, len(x), _SPLIT_BLOCK_ROWS):  # of the whole split
                block = np.asarray(x[start : start + _SPLIT_BLOCK_ROWS], dtype=np.float32)
                label = y[start : start + _SPLIT_BLOCK_ROWS].astype(np.float32)
                writer.write_batch(pa.record_batch([*block.T, label], schema=schema))
        paths.append(str(path))
    return paths[0], paths[1]


_SPLIT_BLOCK_ROWS = 262_144


# The model families by `model.name`: each builder reads its family's section of the config
# (the Spark ones import pyspark only when built).
MODEL_FAMILIES = {
    "mlp": "churnops.trainers.estimators:build_mlp",
    "random_forest": "churnops.trainers.estimators:build_random_forest",
    "logistic_regression": "churnops.trainers.estimators:build_logistic_regression",
    "xgboost": "churnops.trainers.estimators:build_xgboost",
    "recency": "churnops.trainers.estimators:build_recency",
    "spark_logistic_regression": "churnops.trainers.estimators:build_spark_logistic_regression",
    "spark_xgboost": "churnops.trainers.estimators:build_spark_xgboost",
}


class FamilyBuilder(Protocol):
    """Builds an unfitted model of one family from the train config."""

    def __call__(self, cfg: TrainConfig, launcher: Launcher | None) -> ChurnModel: ...


def build_model(cfg: TrainConfig, launcher: Launcher | None = None) -> ChurnModel:
    """The model `cfg.model.name` names; the net trains through `launcher` (or cfg.launcher)."""
    builder: FamilyBuilder = load_choice(MODEL_FAMILIES, cfg.model.name, field="model.name")
    return builder(cfg, launcher)


def build_mlp(cfg: TrainConfig, launcher: Launcher | None) -> NetChurnModel:
    """The Lightning net, trained through `launcher` (None: `cfg.launcher`)."""
    return NetChurnModel(cfg, launcher)


def build_random_forest(cfg: TrainConfig, launcher: Launcher | None) -> ChurnModel:
    """`model.random_forest`."""
    from churnops.models.baselines import RandomForestChurnModel

    rf = cfg.model.random_forest
    return RandomForestChurnModel(
        rf.n_estimators, rf.max_depth, seed=cfg.seed, n_jobs=rf.n_jobs, encoder=table_encoder(cfg)
    )


def build_logistic_regression(cfg: TrainConfig, launcher: Launcher | None) -> ChurnModel:
    """`model.logistic_regression`."""
    from churnops.models.baselines import LogisticChurnModel

    lr = cfg.model.logistic_regression
    return LogisticChurnModel(
        c=lr.c, max_iter=lr.max_iter, seed=cfg.seed, encoder=table_encoder(cfg)
    )


def build_spark_logistic_regression(cfg: TrainConfig, launcher: Launcher | None) -> ChurnModel:
    """`model.logistic_regression`, fitted on the engine's Spark session."""
    from churnops.models.spark_baselines import SparkLogisticChurnModel

    lr = cfg.model.logistic_regression
    return SparkLogisticChurnModel(
        c=lr.c, max_iter=lr.max_iter, seed=cfg.seed, encoder=table_encoder(cfg),
        spark=cfg.engine.spark,
    )  # fmt: skip


def build_spark_xgboost(cfg: TrainConfig, launcher: Launcher | None) -> ChurnModel:
    """`model.xgboost` as SparkXGBClassifier on the engine's Spark session."""
    from churnops.models.spark_baselines import SparkXGBoostChurnModel

    return SparkXGBoostChurnModel(
        **cfg.model.xgboost.model_dump(), seed=cfg.seed, encoder=table_encoder(cfg),
        spark=cfg.engine.spark, num_workers=cfg.launcher.num_workers,
    )  # fmt: skip


def build_xgboost(cfg: TrainConfig, launcher: Launcher | None) -> ChurnModel:
    """`model.xgboost`."""
    from churnops.models.baselines import XGBoostChurnModel

    return XGBoostChurnModel(
        **cfg.model.xgboost.model_dump(), seed=cfg.seed, encoder=table_encoder(cfg)
    )


def build_recency(cfg: TrainConfig, launcher: Launcher | None) -> ChurnModel:
    """Days since the last order (`features.recency_column`), calibrated."""
    from churnops.models.baselines import RecencyChurnModel

    column = cfg.features.recency_column
    if column not in cfg.features.names:
        raise ValueError(f"features.recency_column={column!r}: not among features.columns")
    return RecencyChurnModel(cfg.features.names.index(column), seed=cfg.seed)
