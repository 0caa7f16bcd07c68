"""A pyfunc in the shape churnops' own pyfunc (models/pyfunc.py) answers: a frame of
`probability` and `prediction`."""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd


class ChurnProbabilityModel(mlflow.pyfunc.PythonModel):
    """Wraps a fitted sklearn classifier; predicts churn probability and a 0/1 decision."""

    def __init__(self, estimator, threshold: float = 0.5):
        self.estimator = estimator
        self.threshold = threshold

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        proba = self.estimator.predict_proba(model_input)[:, 1]
        return pd.DataFrame({"probability": proba, "prediction": (proba >= self.threshold) * 1})
