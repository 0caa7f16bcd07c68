"""Baselines with the net's interface: `fit(x, y)` and `predict_proba(x) -> [N, 2]`.

They read the same raw feature rows (NaN = missing; categories as strings or codes) and the same
splits as the net, so a benchmark compares like with like. Each owns a `TableEncoder` fitted on
its training rows: the linear model one-hot encodes categories, the trees read vocabulary codes
(XGBoost as native categories). XGBoost is imported only when used.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from churnops.models.encoding import NumericStatistics, TableEncoder


def default_encoder(x: Any) -> TableEncoder:
    """All-numeric columns named by position, "auto" transforms: for bare matrices."""
    width = x.shape[1] if hasattr(x, "shape") else len(x[0])
    return TableEncoder([f"x{i}" for i in range(width)])


class _EncodedModel:
    """Fits `encoder` on the training rows; subclasses see encoded float32 matrices only."""

    encoder: TableEncoder | None

    def _fit_encoder(self, x: Any) -> np.ndarray:
        if self.encoder is None:
            self.encoder = default_encoder(x)
        return self.encoder.fit(x).transform(x)

    def _encode(self, x: Any) -> np.ndarray:
        if self.encoder is None:
            raise RuntimeError(f"{type(self).__name__}.predict_proba called before fit")
        return self.encoder.transform(x)


class RandomForestChurnModel(_EncodedModel):
    """sklearn RandomForest, by default 100 trees of depth 10 (`model.random_forest`).

    Categories enter as vocabulary codes (ordinal), which trees can split into groups.
    """

    name = "random_forest"

    def __init__(self, n_estimators: int = 100, max_depth: int | None = 10, seed: int = 42,
                 n_jobs: int = -1, encoder: TableEncoder | None = None):  # fmt: skip
        self.encoder = encoder
        self.model = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=n_jobs
        )

    def fit(self, x: Any, y: np.ndarray) -> RandomForestChurnModel:
        # Missing gaps (single-order customers) become -1: a value trees can split off.
        self.model.fit(np.nan_to_num(self._fit_encoder(x), nan=-1.0), y)
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        return self.model.predict_proba(np.nan_to_num(self._encode(x), nan=-1.0))

    @property
    def feature_importances(self) -> np.ndarray:
        return self.model.feature_importances_


class LogisticChurnModel(_EncodedModel):
    """Logistic regression on imputed, transformed numeric columns and one-hot categories.

    Numeric columns follow the encoder's per-column transform ("log1p" | "standardize" | "none"),
    with a missing-indicator per column that had gaps; each category level, the missing and the
    unknown bucket included, gets its own 0/1 column.
    """

    name = "logistic_regression"

    def __init__(self, c: float = 1.0, max_iter: int = 1000, seed: int = 42,
                 encoder: TableEncoder | None = None):  # fmt: skip
        self.encoder = encoder
        self.numeric: NumericStatistics | None = None
        self.model = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)

    def _design(self, codes: np.ndarray) -> np.ndarray:
        """The float64 design matrix, written into one array: the numeric part block by
        block, then each category's one-hot columns (no per-part copies to stack)."""
        assert self.encoder is not None
        numeric = self.numeric.width if self.numeric is not None else 0
        out = np.zeros((len(codes), numeric + sum(self.encoder.cardinalities)), np.float64)
        if self.numeric is not None:
            self.numeric.apply(self.encoder.numeric_part(codes), out=out[:, :numeric])
        offset, rows = numeric, np.arange(len(codes))
        for i, size in zip(self.encoder.categorical_index, self.encoder.cardinalities, strict=True):
            out[rows, offset + codes[:, i].astype(np.int64)] = 1.0
            offset += size
        return out

    def fit(self, x: Any, y: np.ndarray) -> LogisticChurnModel:
        self.model.fit(self._fit_design(x), y)
        return self

    def _fit_design(self, x: Any) -> np.ndarray:
        """Fit the encoder and the numeric statistics on `x`; its design matrix (a Spark fit
        trains on the same one)."""
        codes = self._fit_encoder(x)
        assert self.encoder is not None
        numeric = self.encoder.numeric_columns
        self.numeric = NumericStatistics(
            self.encoder.numeric_part(codes),
            [self.encoder.numeric_transforms[c] for c in numeric],
        ) if numeric else None  # fmt: skip
        return self._design(codes)

    def predict_proba(self, x: Any) -> np.ndarray:
        return self.model.predict_proba(self._design(self._encode(x)))


class XGBoostChurnModel(_EncodedModel):
    """XGBoost `hist` trees with native categorical splits; on CUDA when a GPU is there."""

    name = "xgboost"

    def __init__(self, n_estimators: int = 300, max_depth: int = 6, learning_rate: float = 0.05,
                 subsample: float = 0.8, colsample_bytree: float = 0.8, device: str = "auto",
                 seed: int = 42, n_jobs: int = -1,
                 encoder: TableEncoder | None = None):  # fmt: skip
        import xgboost as xgb

        self.encoder = encoder
        self.device = resolve_xgboost_device(device)
        self.model = xgb.XGBClassifier(
            n_estimators=n_estimators,
            max_depth=max_depth,
            learning_rate=learning_rate,
            subsample=subsample,
            colsample_bytree=colsample_bytree,
            tree_method="hist",
            device=self.device,
            random_state=seed,
            n_jobs=n_jobs,
            eval_metric="logloss",
            enable_categorical=True,
        )

    def _frame(self, codes: np.ndarray) -> Any:
        """Numeric columns as floats, categorical ones as pandas categories of their codes."""
        if not self.encoder or not self.encoder.categorical:
            return codes  # XGBoost learns a direction for missing values itself
        import pandas as pd

        frame = pd.DataFrame(codes, columns=self.encoder.columns)
        for name, size in zip(self.encoder.categorical, self.encoder.cardinalities, strict=True):
            column = codes[:, self.encoder.columns.index(name)].astype(np.int64)
            frame[name] = pd.Categorical(column, categories=range(size))
        return frame

    def fit(self, x: Any, y: np.ndarray) -> XGBoostChurnModel:
        self.model.fit(self._frame(self._fit_encoder(x)), y)
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        return self.model.predict_proba(self._frame(self._encode(x)))

    @property
    def feature_importances(self) -> np.ndarray:
        return self.model.feature_importances_


class RecencyChurnModel:
    """The trivial score: days since the last order, calibrated by a one-feature logistic fit."""

    name = "recency"

    def __init__(self, recency_index: int, seed: int = 42):
        self.recency_index = recency_index
        self.model = LogisticRegression(random_state=seed)

    def _column(self, x: Any) -> np.ndarray:
        column = np.asarray(x)[:, [self.recency_index]].astype(np.float64)
        return np.nan_to_num(column, nan=0.0)

    def fit(self, x: Any, y: np.ndarray) -> RecencyChurnModel:
        self.model.fit(self._column(x), y)
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        return self.model.predict_proba(self._column(x))


def resolve_xgboost_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; anything else is passed through."""
    if device != "auto":
        return device
    if not Path("/proc/driver/nvidia").exists() and sys.platform.startswith("linux"):
        return "cpu"  # no NVIDIA driver, no CUDA: spare the seconds importing torch takes
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"
