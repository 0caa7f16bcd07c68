"""Baselines with the net's interface: `fit(x, y)` and `predict_proba(x) -> [N, 2]`.

They read the same raw feature matrices (NaN = missing) and the same splits as the net, so a
benchmark compares like with like. XGBoost is imported only when used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler


class RandomForestChurnModel:
    """sklearn RandomForest with the seed notebook's settings (100 trees, depth 10)."""

    name = "random_forest"

    def __init__(self, n_estimators: int = 100, max_depth: int | None = 10, seed: int = 42,
                 n_jobs: int = -1):  # fmt: skip
        self.model = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=n_jobs
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> RandomForestChurnModel:
        # Missing gaps (single-order customers) become -1: a value trees can split off.
        self.model.fit(np.nan_to_num(x, nan=-1.0), y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(np.nan_to_num(x, nan=-1.0))

    @property
    def feature_importances(self) -> np.ndarray:
        return self.model.feature_importances_


class LogisticChurnModel:
    """Logistic regression on imputed, log1p'd, standardised features (with missing flags)."""

    name = "logistic_regression"

    def __init__(self, c: float = 1.0, max_iter: int = 1000, seed: int = 42):
        self.model = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            FunctionTransformer(_signed_log1p),
            StandardScaler(),
            LogisticRegression(C=c, max_iter=max_iter, random_state=seed),
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogisticChurnModel:
        self.model.fit(x, y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)


class XGBoostChurnModel:
    """XGBoost `hist` trees; on CUDA when a GPU is there (device="auto")."""

    name = "xgboost"

    def __init__(self, n_estimators: int = 300, max_depth: int = 6, learning_rate: float = 0.05,
                 subsample: float = 0.8, colsample_bytree: float = 0.8, device: str = "auto",
                 seed: int = 42, n_jobs: int = -1):  # fmt: skip
        import xgboost as xgb

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
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> XGBoostChurnModel:
        self.model.fit(x, y)  # XGBoost learns a direction for missing values itself
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)

    @property
    def feature_importances(self) -> np.ndarray:
        return self.model.feature_importances_


class RecencyChurnModel:
    """The trivial score: days since the last order, calibrated by a one-feature logistic fit."""

    name = "recency"

    def __init__(self, recency_index: int, seed: int = 42):
        self.recency_index = recency_index
        self.model = LogisticRegression(random_state=seed)

    def _column(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num(x[:, [self.recency_index]], nan=0.0)

    def fit(self, x: np.ndarray, y: np.ndarray) -> RecencyChurnModel:
        self.model.fit(self._column(x), y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self._column(x))


def resolve_xgboost_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; anything else is passed through."""
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def _signed_log1p(x: Any) -> Any:
    return np.sign(x) * np.log1p(np.abs(x))
