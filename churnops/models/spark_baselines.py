"""Baselines fitted by Spark ML on the engine's session (a cluster's executors), served without
Spark: the fitted coefficients go into the model the pyfunc already serves.

`SparkLogisticChurnModel` is `LogisticChurnModel` (same encoder, same design matrix, same
sklearn `predict_proba`) whose weights come from `pyspark.ml.classification.LogisticRegression`;
`SparkXGBoostChurnModel` is `XGBoostChurnModel` whose booster comes from
`xgboost.spark.SparkXGBClassifier`. The rows reach Spark from the driver's arrays (the training
set every family reads), so the fit, not the read, runs on the executors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from churnops.models.baselines import LogisticChurnModel, XGBoostChurnModel
from churnops.models.encoding import TableEncoder


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

        design = self._fit_design(x)
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


class SparkXGBoostChurnModel(XGBoostChurnModel):
    """XGBoost trained by `SparkXGBClassifier` on `num_workers` Spark tasks; its booster is
    loaded into the `XGBClassifier` the pyfunc serves. Categories enter as codes (numbers):
    Spark vectors carry no categorical type.

    Args:
        num_workers: Spark tasks that train (XGBoost's `num_workers`).
        spark: the engine's `SparkSettings` (the running session, else its master).
        The rest: as `XGBoostChurnModel`.
    """

    name = "spark_xgboost"

    def __init__(self, n_estimators: int = 300, max_depth: int = 6, learning_rate: float = 0.05,
                 subsample: float = 0.8, colsample_bytree: float = 0.8, device: str = "auto",
                 seed: int = 42, n_jobs: int = -1, encoder: TableEncoder | None = None,
                 spark: Any = None, num_workers: int = 1):  # fmt: skip
        super().__init__(n_estimators, max_depth, learning_rate, subsample, colsample_bytree,
                         device, seed, n_jobs, encoder)  # fmt: skip
        self.spark, self.num_workers = spark, num_workers
        self.params: dict[str, Any] = {"n_estimators": n_estimators, "max_depth": max_depth,
                       "learning_rate": learning_rate, "subsample": subsample,
                       "colsample_bytree": colsample_bytree, "random_state": seed}  # fmt: skip
        self.spark_model: Any = None  # the fitted Spark model, until pickled

    def _frame(self, codes: np.ndarray) -> Any:
        return codes  # as Spark saw them: codes as numbers, NaN missing

    def fit(self, x: Any, y: np.ndarray) -> SparkXGBoostChurnModel:
        from xgboost.spark import SparkXGBClassifier

        from churnops.data.engines.spark import SparkEngine

        codes = self._fit_encoder(x)
        engine = SparkEngine(**(self.spark.model_dump() if self.spark is not None else {}))
        try:
            estimator = SparkXGBClassifier(
                features_col="features", label_col="label", num_workers=self.num_workers,
                tree_method="hist", device=self.device, missing=float("nan"), **self.params,
            )  # fmt: skip
            self.spark_model = estimator.fit(design_frame(engine.session, codes, np.asarray(y)))
            raw = self.spark_model.get_booster().save_raw("json")
        finally:
            engine.stop()  # only a session started here
        self.model.load_model(raw)  # the served XGBClassifier gets Spark's booster
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
