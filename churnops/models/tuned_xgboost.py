"""XGBoost tuned by a fixed, documented search with inner cross-validation on the rows it fits.

`TunedXGBoostChurnModel.fit(x, y)` scores every candidate of `SEARCH_SPACE` by stratified k-fold
ROC AUC on `x, y` alone (the inner CV), then refits the best candidate on all of them. Nothing of
the rows it is later scored on takes part, so a benchmark's outer CV over it is a nested CV.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from churnops.models.baselines import XGBoostChurnModel
from churnops.models.encoding import TableEncoder

# The search: 6 fixed candidates around XGBoost's usual strong region for a few thousand rows
# (depth 2 to 6, a moderate learning rate, row and column subsampling), each depth once with
# many small steps and once with fewer, larger ones on heavier leaves. Fixed, not random, so a
# rerun searches the same points; 6 x 3 inner fits is what a shared 2-core box affords per fit.
SEARCH_SPACE: tuple[dict[str, Any], ...] = tuple(
    {
        "max_depth": depth,
        "learning_rate": lr,
        "n_estimators": trees,
        "min_child_weight": mcw,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
    }
    for depth in (2, 4, 6)
    for lr, trees, mcw in ((0.05, 300, 1), (0.1, 150, 5))
)
INNER_FOLDS = 3


class TunedXGBoostChurnModel:
    """XGBoost whose settings are picked by inner CV over `SEARCH_SPACE` on the fit rows.

    Args:
        encoder: the (unfitted) table encoder every candidate uses.
        seed: seeds the folds and XGBoost.
        n_jobs: XGBoost threads (-1: every core).
        device: "auto", "cpu" or "cuda".
        space: the candidates (default `SEARCH_SPACE`).
        inner_folds: folds of the inner CV.
    """

    name = "xgboost_tuned"

    def __init__(
        self,
        encoder: TableEncoder | None = None,
        seed: int = 42,
        n_jobs: int = -1,
        device: str = "auto",
        space: tuple[dict[str, Any], ...] = SEARCH_SPACE,
        inner_folds: int = INNER_FOLDS,
    ):
        if not space:
            raise ValueError("space: expected at least one candidate, got none")
        if inner_folds < 2:
            raise ValueError(f"inner_folds: expected at least 2, got {inner_folds}")
        self.encoder = encoder
        self.seed = seed
        self.n_jobs = n_jobs
        self.device = device
        self.space = space
        self.inner_folds = inner_folds
        self.best_params: dict[str, Any] | None = None
        self.search_scores: list[float] = []  # inner-CV ROC AUC of each candidate, in order
        self.model: XGBoostChurnModel | None = None

    def _candidate(self, params: dict[str, Any]) -> XGBoostChurnModel:
        import copy

        p = dict(params)
        min_child_weight = p.pop("min_child_weight", 1)
        model = XGBoostChurnModel(
            **p,
            device=self.device,
            seed=self.seed,
            n_jobs=self.n_jobs,
            encoder=copy.deepcopy(self.encoder),
        )
        model.model.set_params(min_child_weight=min_child_weight)
        return model

    def fit(self, x: Any, y: np.ndarray) -> TunedXGBoostChurnModel:
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(y)
        if len(np.unique(y)) < 2:
            raise ValueError("y: the inner CV needs rows of both classes")
        folds = list(
            StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed).split(
                np.zeros(len(y)), y
            )
        )
        self.search_scores = []
        for params in self.space:
            aucs = []
            for fit_idx, held_idx in folds:
                model = self._candidate(params).fit(_rows(x, fit_idx), y[fit_idx])
                aucs.append(
                    roc_auc_score(y[held_idx], model.predict_proba(_rows(x, held_idx))[:, 1])
                )
            self.search_scores.append(float(np.mean(aucs)))
        self.best_params = dict(self.space[int(np.argmax(self.search_scores))])
        self.model = self._candidate(self.best_params).fit(x, y)
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("TunedXGBoostChurnModel.predict_proba called before fit")
        return self.model.predict_proba(x)


def _rows(x: Any, index: np.ndarray) -> Any:
    return x.iloc[index] if hasattr(x, "iloc") else x[index]
