"""Baselines fitted by Spark ML on the engine's session (a cluster's executors), served without
Spark: the fitted coefficients go into the model the pyfunc already serves.

`SparkLogisticChurnModel` is `LogisticChurnModel` (same encoder, same design matrix, same
sklearn `predict_proba`) whose weights come from `pyspark.ml.classification.LogisticRegression`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from churnops.models.baselines import LogisticChurnModel
from churnops.models.encoding import NumericStatistics, TableEncoder


class SparkLogisticChurnModel(LogisticChurnModel):
    """Spark ML logistic regression with sklearn's objective (L2, `c` as sklearn's `C`).

    Args:
        c: inverse regularisation strength, as sklearn's `C` (Spark's regParam = 1 / (c * rows)).
        max_iter: Spark's maxIter.
        seed: kept for the common interface (the fit is deterministic).
        encoder: the table encoder, as the other baselines take it.
        spark: the engine's `SparkSettings` (the running session, else its master).
    """

    name = "spark_logistic_regression"

    def __init__(self, c: float = 1.0, max_iter: int = 1000, seed: int = 42,
                 encoder: TableEncoder | None = None, spark: Any = None):  # fmt: skip
        super().__init__(c=c, max_iter=max_iter, seed=seed, encoder=encoder)
        self.c, self.max_iter, self.spark = c, max_iter, spark
        self.spark_model: Any = None  # the fitted Spark model, until pickled

    def fit(self, x: Any, y: np.ndarray) -> SparkLogisticChurnModel:
        from churnops.data.engines.spark import SparkEngine

        codes = self._fit_encoder(x)
        assert self.encoder is not None
        numeric = self.encoder.numeric_columns
        self.numeric = NumericStatistics(
            codes[:, self.encoder.numeric_index].reshape(len(codes), len(numeric)),
            [self.encoder.numeric_transforms[c] for c in numeric],
        ) if numeric else None  # fmt: skip
        design = self._design(codes)
        options = self.spark.model_dump() if self.spark is not None else {}
        engine = SparkEngine(**options)
        try:
            self.spark_model = fit_spark_logistic(
                engine.session, design, np.asarray(y), 1.0 / (self.c * len(design)), self.max_iter
            )
            coefficients = self.spark_model.coefficients.toArray()
            intercept = self.spark_model.intercept
        finally:
            engine.stop()  # only a session started here
        # sklearn's predict_proba from Spark's weights: the pyfunc serves it without Spark.
        self.model.coef_ = coefficients.reshape(1, -1)
        self.model.intercept_ = np.array([intercept])
        self.model.classes_ = np.array([0, 1])
        self.model.n_features_in_ = design.shape[1]
        return self

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "spark_model": None}  # a JVM object: never pickled


def design_frame(session: Any, design: np.ndarray, y: np.ndarray | None = None) -> Any:
    """A Spark DataFrame with a `features` vector column (and `label`) from a design matrix."""
    from pyspark.ml.linalg import Vectors

    rows = [(Vectors.dense(row.tolist()),) for row in design.astype(np.float64)]
    if y is None:
        return session.createDataFrame(rows, ["features"])
    labelled = [(r[0], float(label)) for r, label in zip(rows, y, strict=True)]
    return session.createDataFrame(labelled, ["features", "label"])


def fit_spark_logistic(
    session: Any, design: np.ndarray, y: np.ndarray, reg_param: float, max_iter: int
) -> Any:
    """Spark ML's LogisticRegression on `session`: L2 only, no standardisation (sklearn's
    objective), fitted as Spark jobs."""
    from pyspark.ml.classification import LogisticRegression

    estimator = LogisticRegression(
        maxIter=max_iter, regParam=reg_param, elasticNetParam=0.0, standardization=False,
        tol=1e-10, family="binomial",
    )  # fmt: skip
    return estimator.fit(design_frame(session, design, y))
