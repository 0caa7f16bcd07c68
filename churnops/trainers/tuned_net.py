"""The tuned net: a fixed, documented search over the net's settings, on the fit rows.

The baselines benchmark's `mlp_tuned` row, beside `models.tuned_xgboost` (its `xgboost_tuned`).

Each candidate is a `NetChurnModel` fitted on the rows it is given; each carves the same
stratified validation split off them (`data.val_size`, seed `seed`) to keep its best epoch by
val/auroc. The candidate with the best validation ROC AUC is the model: the search sees only the
fit rows, so the benchmark's outer CV over it is a nested CV, and it costs one fit per candidate
(an inner k-fold per candidate would cost k times that on a 2-core machine).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from churnops.config import deep_merge

# The search (config overrides of `model.mlp` and `trainer`), the default first. More
# optimisation steps were what helped most in the 3-fold design runs (docs/training.md: batch
# 128 or 60 epochs on the phone-plan table); three candidates is what a 2-core box affords.
NET_SEARCH: tuple[dict[str, dict[str, Any]], ...] = (
    {},
    {"trainer": {"batch_size": 128}},
    {"trainer": {"max_epochs": 60}},
)


class TunedNetChurnModel:
    """The net with the candidate of `space` that scores best on its own validation split.

    Args:
        cfg: the train config every candidate starts from.
        space: the candidates' overrides (default `NET_SEARCH`).
    """

    name = "mlp_tuned"

    def __init__(self, cfg: Any, space: tuple[dict[str, dict[str, Any]], ...] = NET_SEARCH):
        if not space:
            raise ValueError("space: expected at least one candidate, got none")
        self.cfg = cfg
        self.space = space
        self.search_scores: list[float] = []  # best val/auroc of each candidate, in order
        self.best: dict[str, dict[str, Any]] | None = None
        self.model: Any = None

    def candidate_config(self, overrides: dict[str, dict[str, Any]]) -> Any:
        """`cfg` with one candidate's overrides applied (validated as any config is)."""
        unknown = set(overrides) - {"mlp", "trainer"}
        if unknown:
            raise ValueError(f"space: unknown section(s) {sorted(unknown)}; expected mlp, trainer")
        cfg = self.cfg
        changes = {"model": {"name": "mlp", "mlp": overrides.get("mlp", {})}}
        changes["trainer"] = overrides.get("trainer", {})
        return type(cfg).model_validate(deep_merge(cfg.model_dump(), changes))

    def fit(self, x: Any, y: np.ndarray) -> TunedNetChurnModel:
        from churnops.trainers.estimators import NetChurnModel

        self.search_scores, best_score = [], -np.inf
        for overrides in self.space:
            model = NetChurnModel(self.candidate_config(overrides)).fit(x, y)
            score = model.fit_result.best_score if model.fit_result else None
            score = float("nan") if score is None else float(score)
            self.search_scores.append(score)
            if score > best_score or self.model is None:
                best_score, self.best, self.model = score, overrides, model
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("TunedNetChurnModel.predict_proba called before fit")
        return self.model.predict_proba(x)
