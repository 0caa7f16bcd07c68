"""What every model family answers, so a caller trains and scores any of them the same way."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class ChurnModel(Protocol):
    """A churn model on raw feature rows: `fit` returns the model, `predict_proba` P(class)."""

    def fit(self, x: Any, y: np.ndarray) -> ChurnModel: ...

    def predict_proba(self, x: Any) -> np.ndarray: ...
